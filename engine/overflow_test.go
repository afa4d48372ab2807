package engine_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/actors/actorstest"
	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
)

// A context overflow ends the episode with its own stop reason; the episode is
// graded and stays in the batch with its reward (PAPER.md), and the partial reply is
// its last turn.
func TestContextOverflowIsKeptWithReward(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const overflowTurn = 2
		pol := &actorstest.FakePolicy{Script: actorstest.Script{Seed: 3, MinCommands: 4, MaxCommands: 4},
			PerCall: func(req policy.Request, try int) actorstest.PolicyKnobs {
				return actorstest.PolicyKnobs{Overflow: req.Ref.Sample%2 == 0 && req.Turn == overflowTurn}
			}}
		cfg := engine.DefaultConfig()
		cfg.Iterations, cfg.TasksPerIteration, cfg.GroupSize = 1, 6, 4
		cfg.Tasks = tasks(6)
		cfg.Policy, cfg.Trainer = pol, actorstest.NewFakeTrainer(0)
		cfg.Sandboxes, cfg.Grader = &actorstest.FakeSandboxes{}, &actorstest.FakeGrader{}
		cfg.Logger = actorstest.TestLogger(t, hclog.Warn)
		res, err := engine.Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		it := res.Iterations[0]
		if it.Finished != 24 || it.Abandoned != 0 {
			t.Fatalf("finished %d abandoned %d, want 24 and 0", it.Finished, it.Abandoned)
		}
		overflows := 0
		for _, r := range it.Records {
			if r.Ref.Sample%2 != 0 {
				if r.Stop == messages.StopContextOverflow {
					t.Errorf("%s: overflow without one", r.Ref)
				}
				continue
			}
			overflows++
			if r.Stop != messages.StopContextOverflow || r.Status != messages.Finished {
				t.Fatalf("%s: status %s stop %s, want finished context_overflow", r.Ref, r.Status, r.Stop)
			}
			if r.Turns() != overflowTurn+1 {
				t.Fatalf("%s: %d turns, want %d (the partial reply is the last)", r.Ref, r.Turns(), overflowTurn+1)
			}
			last, _ := r.Transcript.Last()
			if last.Command != "" || last.NumTokens() != 3 || last.NumPromptTokens() != 3 || last.Assistant == "" {
				t.Fatalf("%s: last turn %+v (tokens %d, prompt %d), want the partial reply, no command",
					r.Ref, last, last.NumTokens(), last.NumPromptTokens())
			}
			if r.Final != r.Reward+r.TurnPenalty {
				t.Fatalf("%s: R_final %v != R %v + penalty %v", r.Ref, r.Final, r.Reward, r.TurnPenalty)
			}
		}
		if overflows != 12 {
			t.Fatalf("%d overflowing episodes, want 12", overflows)
		}
		// Groups mixing overflowed (unresolved) and resolved samples have non-zero
		// advantages: the overflowing samples are in the batch, with negative advantage.
		inBatch := 0
		for _, r := range it.Records {
			if r.Stop == messages.StopContextOverflow && r.Advantage < 0 {
				inBatch++
			}
		}
		if inBatch == 0 {
			t.Fatalf("batch of %d holds no overflowing episode with negative advantage", it.BatchSize)
		}
		time.Sleep(time.Second)
	})
}
