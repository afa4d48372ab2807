package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"testing"
	"text/tabwriter"

	"github.com/swerl/swerl/benchmarks"
)

const usage = `usage: swerl <command> [flags]

commands:
  train   run the embedded recipe (SimSWE, tiny policy: base -> RFT -> DAPO)
  bench   measure rollout throughput against the goroutine and Proto.Actor references;
          'bench sandbox': sandbox ready time and exec round trip, next to the docker CLI;
          'bench learner': rollout and learner tokens/s of the embedded recipe's tiny model;
          'bench grid': iteration time against its lower bound at 100-10,000 episodes, in
          simulated time (scenarios swe-72b, swe-small, zero; --compare: overlap off, FIFO)
  tasks   validate a task file: gold patches resolve, empty patches do not (real sandboxes)
  images  'images build': build the docker sandbox's per-repository env images of a task file
  rollout sample, grade and record rollouts from an OpenAI-compatible server (vLLM, SGLang);
          with --learner, synchronous DAPO against an external trainer
  rft     turn trajectory records into rejection fine-tuning data (chat messages + token masks)
  sandbox 'sandbox sweep [--all]': remove Docker sandbox containers left by runs that are gone
  node    run a cluster worker: 'node --cluster NAME --peers host:port,...' (the head is
          'train --cluster NAME --peers ...')
  help    show this text

Run 'swerl <command> -h' for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		args = []string{"help"}
	}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "train":
		return trainCmd(ctx, args[1:], stdout, stderr)
	case "bench":
		if len(args) > 1 && args[1] == "sandbox" {
			return benchSandbox(ctx, args[2:], stdout, stderr)
		}
		if len(args) > 1 && args[1] == "learner" {
			return benchLearner(ctx, args[2:], stdout, stderr)
		}
		if len(args) > 1 && args[1] == "grid" {
			return benchGrid(ctx, args[2:], stdout, stderr)
		}
		return bench(ctx, args[1:], stdout, stderr)
	case "tasks":
		return tasksCmd(ctx, args[1:], stdout, stderr)
	case "images":
		return imagesCmd(ctx, args[1:], stdout, stderr)
	case "rollout":
		return rolloutCmd(ctx, args[1:], stdout, stderr)
	case "rft":
		return rftCmd(ctx, args[1:], stdout, stderr)
	case "sandbox":
		return sandboxCmd(ctx, args[1:], stdout, stderr)
	case "node":
		return nodeCmd(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	episodes := fs.Int("episodes", 10000, "concurrent episodes (a multiple of 10, the group size)")
	turns := fs.Int("turns", 20, "turns per episode")
	count := fs.Int("count", 5, "runs of each harness; medians are reported")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *episodes < 10 || *episodes%10 != 0 || *turns < 1 || *count < 1 {
		return fmt.Errorf("bench: need --episodes a positive multiple of 10, --turns >= 1, --count >= 1")
	}
	p := benchmarks.Params{Episodes: *episodes, Turns: *turns}
	harnesses := []struct {
		name string
		fn   func(*testing.B, benchmarks.Params)
	}{{"engine", benchmarks.Engine}, {"ref: goroutine per episode", benchmarks.Goroutines}, {"ref: bare Proto.Actor", benchmarks.Actors}}
	fmt.Fprintf(stdout, "swerl bench: %s, zero-latency fakes, median of %d\n\n", p, *count)
	med := make([]map[string]float64, len(harnesses))
	for i, h := range harnesses {
		var runs []testing.BenchmarkResult
		for j := 0; j < *count; j++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "  %s: run %d/%d\r", h.name, j+1, *count)
			runs = append(runs, testing.Benchmark(func(b *testing.B) { h.fn(b, p) }))
		}
		med[i] = medians(runs)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "harness\tns/turn\tturns/s\tepisodes/s\tB/turn\tallocs/turn\tpeak KiB/episode\t")
	for i, h := range harnesses {
		m := med[i]
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.1f\t%.1f\t\n", h.name, m["ns/turn"], m["turns/s"],
			m["episodes/s"], m["B/turn"], m["allocs/turn"], m["peak-KiB/episode"])
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nengine / bare Proto.Actor: %.2fx per turn (goal <= 1.5x)\n", med[0]["ns/turn"]/med[2]["ns/turn"])
	fmt.Fprintf(stdout, "engine / goroutine floor:  %.2fx per turn\n", med[0]["ns/turn"]/med[1]["ns/turn"])
	fmt.Fprintf(stdout, "engine peak memory:        %.1f KiB per concurrent episode (goal <= 200)\n", med[0]["peak-KiB/episode"])
	return nil
}

// medians takes the median of every extra metric over runs.
func medians(runs []testing.BenchmarkResult) map[string]float64 {
	out := map[string]float64{}
	for k := range runs[0].Extra {
		var v []float64
		for _, r := range runs {
			v = append(v, r.Extra[k])
		}
		slices.Sort(v)
		out[k] = v[len(v)/2]
	}
	return out
}

func benchLearner(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench learner", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tasks := fs.Int("tasks", 32, "tasks per iteration (the embedded recipe's stage 1)")
	group := fs.Int("g", 10, "rollouts per task")
	turnCap := fs.Int("turn-cap", 12, "turns per episode")
	count := fs.Int("count", 5, "runs; medians are reported")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tasks < 1 || *group < 1 || *turnCap < 1 || *count < 1 {
		return fmt.Errorf("bench learner: --tasks, -g, --turn-cap and --count must be positive")
	}
	p := benchmarks.LearnerParams{Tasks: *tasks, Group: *group, TurnCap: *turnCap}
	var runs []testing.BenchmarkResult
	for j := 0; j < *count; j++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "  run %d/%d\r", j+1, *count)
		runs = append(runs, testing.Benchmark(func(b *testing.B) { benchmarks.Learner(b, p) }))
	}
	m := medians(runs)
	fmt.Fprintf(stdout, "swerl bench learner: %s, tiny model of the embedded recipe, median of %d\n\n", p, *count)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rollout tokens/s\tlearner tokens/s\trollout tokens/iteration\t")
	fmt.Fprintf(tw, "%.0f\t%.0f\t%.0f\t\n", m["rollout-tok/s"], m["learner-tok/s"], m["rollout-tok/iter"])
	return tw.Flush()
}
