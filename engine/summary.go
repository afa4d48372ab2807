package engine

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"

	"github.com/swerl/swerl/messages"
)

// Summary is what a rollout did: success rates, turns, format errors, why episodes
// stopped, and tokens. Pass rates count finished episodes only (an abandoned episode
// is an infrastructure failure, not an attempt).
type Summary struct {
	Tasks     int `json:"tasks"` // distinct tasks with at least one finished episode
	Requested int `json:"requested"`
	Finished  int `json:"finished"`
	Abandoned int `json:"abandoned"`
	Resolved  int `json:"resolved"`

	K     int     `json:"k"`         // the k of PassK (the group size G)
	Pass1 float64 `json:"pass_at_1"` // mean over tasks of the unbiased pass@1 (= resolved fraction)
	PassK float64 `json:"pass_at_k"` // mean over tasks with >= K finished samples of the unbiased pass@K
	// TasksShort counts tasks left out of PassK for having fewer than K finished
	// samples (their episodes were abandoned).
	TasksShort int `json:"tasks_short"`

	MeanTurns       float64 `json:"mean_turns"` // over finished episodes
	Turns           int     `json:"turns"`
	FormatErrors    int     `json:"format_errors"`     // turns whose reply held no single command block
	FormatErrorRate float64 `json:"format_error_rate"` // FormatErrors / Turns

	Stops       map[messages.StopReason]int  `json:"stop_reasons"`
	AbandonedBy map[messages.FailureKind]int `json:"abandoned_by"`

	PromptTokens    int `json:"prompt_tokens"`    // context tokens that are not the model's (system, issue, observations)
	AssistantTokens int `json:"assistant_tokens"` // tokens the model produced
}

// PassAtK is the unbiased estimator of pass@k from n samples of which c are correct
// (Chen et al. 2021): 1 - C(n-c, k) / C(n, k), computed as a product so that it
// neither overflows nor loses precision. It needs n >= k >= 1.
func PassAtK(n, c, k int) float64 {
	if k < 1 || n < k || c < 0 || c > n {
		panic(fmt.Sprintf("PassAtK(n=%d, c=%d, k=%d): need n >= k >= 1 and 0 <= c <= n", n, c, k))
	}
	if n-c < k {
		return 1
	}
	fail := 1.0
	for i := n - c + 1; i <= n; i++ {
		fail *= 1 - float64(k)/float64(i)
	}
	return 1 - fail
}

// Summarize computes the summary of records; k is the G of pass@G.
func Summarize(records []messages.EpisodeRecord, k int) Summary {
	s := Summary{Requested: len(records), K: k, Stops: map[messages.StopReason]int{},
		AbandonedBy: map[messages.FailureKind]int{}}
	type counts struct{ n, ok int }
	by := map[string]*counts{}
	var order []string
	for _, r := range records {
		s.Stops[r.Stop]++
		for _, t := range r.Transcript.Turns() {
			s.PromptTokens += t.NumPromptTokens()
			s.AssistantTokens += t.NumTokens()
		}
		if r.Status != messages.Finished {
			s.Abandoned++
			s.AbandonedBy[r.Failure.Kind]++
			continue
		}
		s.Finished++
		c := by[r.Task.ID]
		if c == nil {
			c = &counts{}
			by[r.Task.ID] = c
			order = append(order, r.Task.ID)
		}
		c.n++
		if r.Resolved {
			c.ok++
			s.Resolved++
		}
		for _, t := range r.Transcript.Turns() {
			s.Turns++
			if t.FormatError != "" {
				s.FormatErrors++
			}
		}
	}
	s.Tasks = len(by)
	withK := 0
	for _, id := range order {
		c := by[id]
		s.Pass1 += PassAtK(c.n, c.ok, 1)
		if k >= 1 && c.n >= k {
			s.PassK += PassAtK(c.n, c.ok, k)
			withK++
		} else {
			s.TasksShort++
		}
	}
	if s.Tasks > 0 {
		s.Pass1 /= float64(s.Tasks)
	}
	if withK > 0 {
		s.PassK /= float64(withK)
	}
	if s.Finished > 0 {
		s.MeanTurns = float64(s.Turns) / float64(s.Finished)
	}
	if s.Turns > 0 {
		s.FormatErrorRate = float64(s.FormatErrors) / float64(s.Turns)
	}
	return s
}

// WriteText renders the summary for a terminal.
func (s Summary) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "tasks\t%d\n", s.Tasks)
	fmt.Fprintf(tw, "episodes\t%d requested, %d finished, %d abandoned\n", s.Requested, s.Finished, s.Abandoned)
	fmt.Fprintf(tw, "pass@1\t%.1f%%\t(%d of %d finished episodes resolved)\n", 100*s.Pass1, s.Resolved, s.Finished)
	short := ""
	if s.TasksShort > 0 {
		short = fmt.Sprintf("\t(%d tasks with fewer than %d finished samples left out)", s.TasksShort, s.K)
	}
	fmt.Fprintf(tw, "pass@%d\t%.1f%%%s\n", s.K, 100*s.PassK, short)
	fmt.Fprintf(tw, "mean turns\t%.2f\n", s.MeanTurns)
	fmt.Fprintf(tw, "format errors\t%.1f%%\t(%d of %d turns)\n", 100*s.FormatErrorRate, s.FormatErrors, s.Turns)
	for _, st := range slices.Sorted(maps.Keys(s.Stops)) {
		fmt.Fprintf(tw, "stop %s\t%d\n", st, s.Stops[st])
	}
	for _, k := range slices.Sorted(maps.Keys(s.AbandonedBy)) {
		fmt.Fprintf(tw, "abandoned: %s\t%d\n", k, s.AbandonedBy[k])
	}
	fmt.Fprintf(tw, "tokens\t%d prompt + %d generated\n", s.PromptTokens, s.AssistantTokens)
	return tw.Flush()
}
