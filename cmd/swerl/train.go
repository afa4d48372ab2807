package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/internal/atomicfile"
)

// trainCmd runs the embedded recipe: SimSWE, the tiny policy, base -> RFT -> DAPO.
func trainCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	recipePath := fs.String("recipe", "", "recipe file (default: the embedded engine/recipe.json)")
	out := fs.String("out", "swerl-train", "directory for metrics.jsonl, checkpoints/, curve.svg and table.txt")
	var sets setFlags
	fs.Var(&sets, "set", "section.knob=value: replace a knob's 'ours' value (repeatable), e.g. --set stage1.eps_high=0.2")
	resume := fs.Bool("resume", false, "go on after the last finished phase whose checkpoint is in --out")
	seedList := fs.String("seeds", "", "run the recipe once per seed, one after another (1-5, 1,3,7): each in --out/seed-N, "+
		"then every row's held-out pass@1 per seed with mean, min, max and spread (--out/seeds.txt) and the curves overlaid (--out/curve-seeds.svg)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof reads it)")
	var cf clusterFlags
	cf.register(fs, "127.0.0.1:0")
	var wf watchFlags
	wf.register(fs, true, "warn")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return fmt.Errorf("train: --cpuprofile: %w", err)
		}
		defer stop()
	}
	wf.headLogsAtInfo(fs, &cf)
	watch, err := wf.start(stderr, "swerl")
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer watch.Stop()
	var seeds []uint64
	if *seedList != "" {
		if seeds, err = engine.ParseSeeds(*seedList); err != nil {
			return fmt.Errorf("train: --%w", err)
		}
		for _, s := range sets {
			if strings.HasPrefix(s, "seed=") {
				return fmt.Errorf("train: --seeds %s and --set %s both set the seed: give one of them", *seedList, s)
			}
		}
	}
	r, err := engine.LoadRecipe(*recipePath, sets...)
	if err != nil {
		return err
	}
	opts := engine.TrainOptions{Recipe: r, Out: *out, Progress: watch.onScreen(stdout), Resume: *resume, Watcher: watch.Watcher, Logger: watch.Log}
	if wf.quiet {
		opts.Progress = nil
	}
	if cf.name != "" {
		head, stop, err := startHead(&cf, watch.Log)
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		defer stop()
		opts.Cluster = head
	}
	if seeds != nil {
		return trainSeeds(ctx, opts, *recipePath, sets, seeds, stdout)
	}
	res, err := engine.Train(ctx, opts)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Fprintf(stdout, "\nwrote %s/metrics.jsonl, %s/curve.svg, %s/table.txt and %s/checkpoints/ (%d table rows)\n", *out, *out, *out, *out, len(res.Rows))
	return nil
}

// startCPUProfile profiles the process into path until the returned stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// trainSeeds runs the recipe once per seed, each in out/seed-N, and writes the table of
// every row across seeds (seeds.txt) and the overlaid curves (curve-seeds.svg). A seed
// that fails stops the command; the table of the seeds finished before it is written.
func trainSeeds(ctx context.Context, opts engine.TrainOptions, recipePath string, sets []string, seeds []uint64, stdout io.Writer) error {
	out := opts.Out
	var runs []engine.SeedRun
	report := func() error {
		if len(runs) == 0 {
			return nil
		}
		table := engine.SeedsTable(runs)
		if err := atomicfile.WriteBytes(filepath.Join(out, "seeds.txt"), []byte(table)); err != nil {
			return err
		}
		svg := engine.SeedCurvesSVG("SimSWE held-out pass@1 per seed (swerl train --seeds)", runs)
		if err := atomicfile.WriteBytes(filepath.Join(out, "curve-seeds.svg"), svg); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n%s\nwrote %s/seeds.txt, %s/curve-seeds.svg and %s/seed-N/ for seeds %v\n", table, out, out, out, seedsOf(runs))
		return nil
	}
	for _, seed := range seeds {
		r, err := engine.LoadRecipe(recipePath, append(slices.Clone(sets), fmt.Sprintf("seed=%d", seed))...)
		if err != nil {
			return err
		}
		opts.Recipe, opts.Out = r, filepath.Join(out, fmt.Sprintf("seed-%d", seed))
		fmt.Fprintf(stdout, "== seed %d (%s)\n", seed, opts.Out)
		begin := time.Now()
		res, err := engine.Train(ctx, opts)
		if err != nil {
			return errors.Join(fmt.Errorf("train: seed %d: %w", seed, err), report())
		}
		runs = append(runs, engine.SeedRun{Seed: seed, Rows: res.Rows, Curve: res.Curve, Wall: time.Since(begin)})
	}
	return report()
}

func seedsOf(runs []engine.SeedRun) []uint64 {
	out := make([]uint64, len(runs))
	for i, r := range runs {
		out[i] = r.Seed
	}
	return out
}

// setFlags collects repeated --set flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }
