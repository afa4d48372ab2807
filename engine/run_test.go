package engine_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/actors/actorstest"
	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/messages"
)

func tasks(n int) []messages.TaskRef {
	out := make([]messages.TaskRef, n)
	for i := range out {
		out[i] = messages.TaskRef{ID: fmt.Sprintf("task-%03d", i), Statement: "fix the bug"}
	}
	return out
}

func TestRunSmoke(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := &actorstest.FakeSandboxes{Knobs: actorstest.SandboxKnobs{Latency: 10 * time.Millisecond}}
		pol := &actorstest.FakePolicy{Knobs: actorstest.PolicyKnobs{Latency: 20 * time.Millisecond}}
		tr := actorstest.NewFakeTrainer(0)
		cfg := engine.DefaultConfig()
		cfg.Iterations, cfg.TasksPerIteration, cfg.GroupSize = 2, 4, 4
		cfg.Tasks = tasks(10)
		cfg.Policy, cfg.Trainer, cfg.Sandboxes, cfg.Grader = pol, tr, sb, &actorstest.FakeGrader{}
		cfg.Logger = actorstest.TestLogger(t, hclog.Info)
		res, err := engine.Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range res.Iterations {
			t.Logf("iteration %d: finished %d abandoned %d resolved %d batch %d", it.Iteration, it.Finished, it.Abandoned, it.Resolved, it.BatchSize)
		}
		if len(res.Iterations) != 2 {
			t.Fatalf("iterations = %d", len(res.Iterations))
		}
		time.Sleep(2 * time.Second)
	})
}
