package tiny_test

import (
	"context"
	"fmt"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/policy/tiny"
	"github.com/swerl/swerl/swe"
)

// A model learns, from expert traces, to copy the number of the issue into a command
// block; the policy then writes that block for a new request.
func Example() {
	ctx := context.Background()
	tok := tiny.NewTokenizer([]string{"value", "fix", "ok", "1", "2", "3", "4"})
	m, err := tiny.New(tiny.Config{Window: 8, Dim: 24, Heads: 4, Hidden: 32, Seed: 1}, tok)
	if err != nil {
		panic(err)
	}
	cfg := tiny.DefaultTrainConfig()
	cfg.LR, cfg.PositionsPerStep, cfg.MicroBatch = 1e-2, 32, 32
	tr, err := tiny.NewTrainer(m, cfg)
	if err != nil {
		panic(err)
	}
	var traces []messages.EpisodeRecord
	for i := 0; i < 40; i++ {
		n := 1 + i%4
		var t messages.Transcript
		t = t.Append(messages.Turn{Assistant: fmt.Sprintf("```command\nfix %d\n```", n), Observation: "ok"})
		traces = append(traces, messages.EpisodeRecord{Task: messages.TaskRef{Statement: fmt.Sprintf("value %d", n)}, Transcript: t})
	}
	for epoch := 0; epoch < 15; epoch++ {
		if _, err := tr.SFT(ctx, traces); err != nil {
			panic(err)
		}
	}
	p := tiny.NewPolicy(m, tiny.PolicyConfig{Seed: 7})
	reply, err := p.Generate(ctx, policy.Request{Task: messages.TaskRef{ID: "t", Statement: "value 3"}})
	if err != nil {
		panic(err)
	}
	cmd, formatErr := swe.ParseCommand(reply.Text)
	fmt.Printf("%q %q, %d tokens with their log-probs\n", cmd, formatErr, len(reply.Logprobs))
	// Output: "fix 3" "", 7 tokens with their log-probs
}
