package engine

import (
	"math"
	"math/big"
	"testing"

	"github.com/swerl/swerl/messages"
)

// passAtKExact is the estimator's definition with exact binomials.
func passAtKExact(n, c, k int) float64 {
	num := new(big.Int).Binomial(int64(n-c), int64(k))
	den := new(big.Int).Binomial(int64(n), int64(k))
	r, _ := new(big.Rat).SetFrac(num, den).Float64()
	return 1 - r
}

func TestPassAtKMatchesBinomials(t *testing.T) {
	for n := 1; n <= 30; n++ {
		for c := 0; c <= n; c++ {
			for k := 1; k <= n; k++ {
				got, want := PassAtK(n, c, k), passAtKExact(n, c, k)
				if math.Abs(got-want) > 1e-12 {
					t.Fatalf("PassAtK(%d, %d, %d) = %v, want %v", n, c, k, got, want)
				}
			}
		}
	}
	if got := PassAtK(10, 3, 1); math.Abs(got-0.3) > 1e-15 {
		t.Fatalf("pass@1 of 3/10 = %v, want 0.3", got)
	}
}

func TestSummarize(t *testing.T) {
	rec := func(task string, sample int, resolved bool, stop messages.StopReason, turns ...messages.Turn) messages.EpisodeRecord {
		var tr messages.Transcript
		for _, tu := range turns {
			tr = tr.Append(tu)
		}
		return messages.EpisodeRecord{Ref: messages.EpisodeRef{Sample: sample, TaskID: task}, Task: messages.TaskRef{ID: task},
			Status: messages.Finished, Stop: stop, Resolved: resolved, Transcript: tr}
	}
	ok := messages.NewTurnWithPrompt(messages.Turn{Command: "ls"}, []int32{1, 2, 3}, []int32{4, 5}, []float32{-1, -1})
	bad := messages.NewTurnWithPrompt(messages.Turn{FormatError: "no command"}, []int32{6}, []int32{7}, []float32{-1})
	recs := []messages.EpisodeRecord{
		rec("a", 0, true, messages.StopSubmit, ok, ok),
		rec("a", 1, false, messages.StopTurnCap, ok, bad, ok),
		rec("b", 0, false, messages.StopContextOverflow, bad),
		rec("b", 1, false, messages.StopSubmit, ok),
		messages.Abandon(messages.EpisodeRef{TaskID: "c"}, messages.TaskRef{ID: "c"},
			messages.Failure{Kind: messages.FailGenerate, Cause: "endpoint gone"}),
	}
	s := Summarize(recs, 2)
	if s.Requested != 5 || s.Finished != 4 || s.Abandoned != 1 || s.Tasks != 2 || s.Resolved != 1 {
		t.Fatalf("counts: %+v", s)
	}
	if s.Pass1 != 0.25 || s.PassK != 0.5 || s.TasksShort != 0 {
		t.Fatalf("pass@1 %v pass@2 %v short %d, want 0.25, 0.5, 0", s.Pass1, s.PassK, s.TasksShort)
	}
	if s.Turns != 7 || s.FormatErrors != 2 || s.MeanTurns != 7.0/4 {
		t.Fatalf("turns %d format errors %d mean %v", s.Turns, s.FormatErrors, s.MeanTurns)
	}
	if s.Stops[messages.StopSubmit] != 2 || s.Stops[messages.StopContextOverflow] != 1 || s.Stops[messages.StopAbandoned] != 1 {
		t.Fatalf("stops %v", s.Stops)
	}
	if s.AbandonedBy[messages.FailGenerate] != 1 {
		t.Fatalf("abandoned by %v", s.AbandonedBy)
	}
	if s.PromptTokens != 5*3+2*1 || s.AssistantTokens != 5*2+2*1 {
		t.Fatalf("tokens %d + %d", s.PromptTokens, s.AssistantTokens)
	}
	// A task short of K finished samples is left out of pass@K and counted.
	s = Summarize(recs[:3], 2)
	if s.TasksShort != 1 || s.PassK != 1 {
		t.Fatalf("short %d pass@2 %v, want 1 and 1", s.TasksShort, s.PassK)
	}
}
