package tiny

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
)

// The toy language: the statement is "value N" and the right reply copies N into a
// command block, "```command\nfix N\n```". A model must read the observation to
// answer; guessing is right 1 time in toyNumbers.
const toyNumbers = 12

func toyVocab() []string {
	words := []string{"value", "fix", "ok"}
	for i := 0; i < toyNumbers; i++ {
		words = append(words, strconv.Itoa(i))
	}
	return words
}

func toyStatement(n int) string { return fmt.Sprintf("value %d", n) }
func toyReply(n int) string     { return fmt.Sprintf("```command\nfix %d\n```", n) }

func toyRequest(n, sample int) policy.Request {
	return policy.Request{
		Ref:  messages.EpisodeRef{Group: n, Sample: sample, TaskID: fmt.Sprintf("toy-%d", n)},
		Task: messages.TaskRef{ID: fmt.Sprintf("toy-%d", n), Statement: toyStatement(n)},
	}
}

// toyTraces are text-only expert traces: one turn each.
func toyTraces(count int) []messages.EpisodeRecord {
	recs := make([]messages.EpisodeRecord, count)
	for i := range recs {
		n := i % toyNumbers
		var tr messages.Transcript
		tr = tr.Append(messages.Turn{Assistant: toyReply(n), Observation: "ok"})
		recs[i] = messages.EpisodeRecord{Task: messages.TaskRef{ID: fmt.Sprintf("toy-%d", n), Statement: toyStatement(n)}, Transcript: tr}
	}
	return recs
}

var toyCfg = Config{Window: 8, Dim: 24, Heads: 2, Hidden: 32, Seed: 5}

func toyModel(t testing.TB) *Model {
	t.Helper()
	m, err := New(toyCfg, NewTokenizer(toyVocab()))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// toyAccuracy samples one reply per (number, sample) and counts the exact ones.
func toyAccuracy(t testing.TB, p *Policy, samples int) float64 {
	t.Helper()
	ok, all := 0, 0
	for n := 0; n < toyNumbers; n++ {
		for s := 0; s < samples; s++ {
			r, err := p.Generate(context.Background(), toyRequest(n, s))
			if err != nil {
				t.Fatal(err)
			}
			all++
			if r.Text == toyReply(n) {
				ok++
			}
		}
	}
	return float64(ok) / float64(all)
}
