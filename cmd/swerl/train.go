package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/swerl/swerl/engine"
)

// trainCmd runs the embedded recipe: SimSWE, the tiny policy, base -> RFT -> DAPO.
func trainCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	recipePath := fs.String("recipe", "", "recipe file (default: the embedded engine/recipe.json)")
	out := fs.String("out", "swerl-train", "directory for metrics.jsonl, checkpoints/, curve.svg and table.txt")
	resume := fs.Bool("resume", false, "go on after the last finished phase whose checkpoint is in --out")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r := engine.DefaultRecipe()
	if *recipePath != "" {
		var err error
		if r, err = engine.LoadRecipe(*recipePath); err != nil {
			return err
		}
	}
	res, err := engine.Train(ctx, engine.TrainOptions{Recipe: r, Out: *out, Progress: stdout, Resume: *resume})
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Fprintf(stdout, "\nwrote %s/metrics.jsonl, %s/curve.svg, %s/table.txt and %s/checkpoints/ (%d table rows)\n", *out, *out, *out, *out, len(res.Rows))
	return nil
}
