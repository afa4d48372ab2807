package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/swerl/swerl/engine"
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
	var cf clusterFlags
	cf.register(fs, "127.0.0.1:0")
	var wf watchFlags
	wf.register(fs, true, "warn")
	if err := fs.Parse(args); err != nil {
		return err
	}
	wf.headLogsAtInfo(fs, &cf)
	watch, err := wf.start(stderr, "swerl")
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer watch.Stop()
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
	res, err := engine.Train(ctx, opts)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Fprintf(stdout, "\nwrote %s/metrics.jsonl, %s/curve.svg, %s/table.txt and %s/checkpoints/ (%d table rows)\n", *out, *out, *out, *out, len(res.Rows))
	return nil
}

// setFlags collects repeated --set flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }
