package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/benchmarks"
)

// gridRunner runs f with a *testing.T (synctest bubbles need one) and reports whether
// it passed. In the binary it is testing.Main, which exits the process when f returns;
// tests replace it with a runner that passes their own T.
var gridRunner = runUnderTestingMain

// benchGrid is `swerl bench grid`: the rollout-throughput grid in fake time.
func benchGrid(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench grid", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "", "scenario to run (swe-72b, swe-small, zero; default: all)")
	episodes := fs.String("episodes", "100,1000,10000", "concurrency points: episodes per iteration (multiples of 10)")
	out := fs.String("out", "bench-grid", "directory for grid.json, grid.md and grid.svg")
	compare := fs.Bool("compare", false, "also run each point with overlap off and with FIFO generation order")
	seed := fs.Uint64("seed", 1, "seed of every latency and turn-count draw")
	overlap := fs.Bool("overlap", true, "prepare sandboxes while the learner trains (engine Config.NoOverlap = !overlap)")
	order := fs.String("order", "", "generation order once the slots are full: most-turns-left (default) or fifo")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench grid: unexpected arguments %q", fs.Args())
	}
	ord, err := actors.ParseGenerationOrder(*order)
	if err != nil {
		return fmt.Errorf("bench grid: %w", err)
	}
	var eps []int
	for _, s := range splitList(*episodes) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 10 || n%10 != 0 {
			return fmt.Errorf("bench grid: --episodes %q: need positive multiples of 10", s)
		}
		eps = append(eps, n)
	}
	opts := benchmarks.GridOptions{Episodes: eps, Seed: *seed, NoOverlap: !*overlap, Order: ord, Compare: *compare, Progress: stderr}
	if *scenario != "" {
		opts.Scenarios = []string{*scenario}
	}
	if _, err := opts.Points(); err != nil { // flag errors before any run
		return fmt.Errorf("bench grid: %w", err)
	}
	var runErr error
	ok := gridRunner(func(t *testing.T) {
		defer func() {
			if runErr != nil {
				t.Error(runErr) // the exit status under testing.Main
			}
		}()
		if err := ctx.Err(); err != nil {
			runErr = err
			return
		}
		fmt.Fprintf(stderr, "swerl bench grid: simulated time (testing/synctest), seed %d\n", *seed)
		g := benchmarks.RunGrid(t, opts)
		fmt.Fprintf(stdout, "swerl bench grid: steady-state iterations 1-2 of 3, seed %d (simulated seconds; engine us/turn in real time)\n\n", *seed)
		if err := benchmarks.WriteGridTable(stdout, g); err != nil {
			runErr = err
			return
		}
		if err := benchmarks.WriteGridFiles(*out, g); err != nil {
			runErr = err
			return
		}
		fmt.Fprintf(stdout, "\nwrote %s/grid.json, grid.md, grid.svg\n", *out)
	})
	if runErr != nil {
		return fmt.Errorf("bench grid: %w", runErr)
	}
	if !ok {
		return fmt.Errorf("bench grid: a point failed its checks (see above)")
	}
	return nil
}

// runUnderTestingMain runs f as the only test of testing.Main and exits with its
// status: the grid's output is written before. testing prints its verdict (PASS /
// FAIL) on stdout, so stdout is pointed at stderr while it runs; f writes to the
// writers it was given.
func runUnderTestingMain(f func(*testing.T)) bool {
	os.Args = []string{os.Args[0], "-test.run=^grid$"}
	os.Stdout = os.Stderr
	testing.Main(func(pat, str string) (bool, error) { return regexp.MatchString(pat, str) },
		[]testing.InternalTest{{Name: "grid", F: f}}, nil, nil)
	return true // not reached: testing.Main exits
}
