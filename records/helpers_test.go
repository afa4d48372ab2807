package records

import (
	"fmt"
	"math"
	"os"
	"reflect"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/swerl/swerl/messages"
)

// No writer goroutine outlives its Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ids returns n token ids starting at from.
func ids(from, n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(from + i)
	}
	return out
}

// lps returns n log-probs, all <= 0.
func lps(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = -0.125 * float32(i+1)
	}
	return out
}

func ref(k, g, s int, task string) messages.EpisodeRef {
	return messages.EpisodeRef{Iteration: k, PolicyVersion: k, Group: g, Sample: s, TaskID: task}
}

// resolvedEpisode has three turns; the second one is a format error.
func resolvedEpisode() messages.EpisodeRecord {
	var tr messages.Transcript
	tr = tr.Append(messages.NewTurnWithPrompt(messages.Turn{Index: 0, PolicyVersion: 3, Assistant: "look\n```command\nls\n```",
		Command: "ls", Observation: "a.py b.py", GenerateTime: 1500 * time.Millisecond, ExecTime: 20 * time.Millisecond},
		ids(100, 5), ids(200, 3), lps(3)))
	tr = tr.Append(messages.NewTurnWithPrompt(messages.Turn{Index: 1, PolicyVersion: 3, Assistant: "no block here",
		FormatError: "no command block", Observation: "error: your reply held no command block", GenerateTime: time.Second},
		ids(300, 2), ids(400, 4), lps(4)))
	tr = tr.Append(messages.NewTurnWithPrompt(messages.Turn{Index: 2, PolicyVersion: 3, Assistant: "```command\nsubmit\n```",
		Command: "submit", Observation: "submitted", ExitCode: 0, TimedOut: false, ExecTime: 2 * time.Second},
		ids(500, 3), ids(600, 2), lps(2)))
	return messages.EpisodeRecord{
		Ref: ref(3, 1, 2, "repo__issue-1"), Task: messages.TaskRef{ID: "repo__issue-1", Statement: "Fix the <b>bug</b> & it.\nIt crashes."},
		Status: messages.Finished, Stop: messages.StopSubmit, Attempts: 1, Retries: 0, Stale: 1,
		Transcript: tr, Patch: "diff --git a/a.py b/a.py\n", Resolved: true, Reward: 1, TurnPenalty: 0, Final: 1,
		Advantage: 0.75, Duration: 4*time.Second + 250*time.Millisecond,
	}
}

// abandonedEpisode lost its sandbox after one turn, past its retries.
func abandonedEpisode() messages.EpisodeRecord {
	r := messages.Abandon(ref(3, 1, 3, "repo__issue-1"), messages.TaskRef{ID: "repo__issue-1", Statement: "Fix the bug."},
		messages.Failure{Kind: messages.FailSandboxDied, Cause: "container exited 137"})
	var tr messages.Transcript
	tr = tr.Append(messages.NewTurnWithPrompt(messages.Turn{Index: 0, PolicyVersion: 3, Assistant: "```command\npytest\n```",
		Command: "pytest", ExitCode: 137, TimedOut: true}, ids(1, 4), ids(9, 2), lps(2)))
	r.Transcript = tr
	r.Attempts, r.Restarts, r.Retries = 3, 1, 2
	return r
}

// emptyEpisode finished with no turn at all (a context overflow before the first reply).
func emptyEpisode() messages.EpisodeRecord {
	return messages.EpisodeRecord{Ref: ref(4, 0, 0, "sim-7"), Task: messages.TaskRef{ID: "sim-7"},
		Status: messages.Finished, Stop: messages.StopContextOverflow, Attempts: 1}
}

// textEpisode comes from a text-only policy: turns without tokens.
func textEpisode() messages.EpisodeRecord {
	var tr messages.Transcript
	tr = tr.Append(messages.NewTurn(messages.Turn{Index: 0, Assistant: "```command\nsubmit\n```", Command: "submit"}, nil, nil))
	return messages.EpisodeRecord{Ref: ref(0, 5, 1, "t"), Task: messages.TaskRef{ID: "t", Statement: "s"},
		Status: messages.Finished, Stop: messages.StopTurnCap, Transcript: tr, Reward: 0, TurnPenalty: -0.5, Final: -0.5}
}

// sampleRecords covers several turns with a format error, an abandoned record, an
// empty transcript, a text-only policy, and known and unknown advantages.
func sampleRecords() []Record {
	return []Record{
		FromEpisode(resolvedEpisode(), true),
		FromEpisode(abandonedEpisode(), false),
		FromEpisode(emptyEpisode(), false),
		FromEpisode(textEpisode(), true),
	}
}

// numbered returns n distinct valid records.
func numbered(n int) []Record {
	out := make([]Record, n)
	for i := range out {
		e := resolvedEpisode()
		e.Ref.Sample = i
		e.Advantage = float64(i) / 10
		out[i] = FromEpisode(e, i%2 == 0)
	}
	return out
}

// diffRecords describes, field by field, how got differs from want ("" if equal).
func diffRecords(got, want Record) string {
	if reflect.DeepEqual(got, want) {
		return ""
	}
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	var out string
	for i := range gv.NumField() {
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		if !reflect.DeepEqual(g, w) {
			if gp, ok := g.(*float64); ok {
				g = derefOr(gp)
				w = derefOr(w.(*float64))
			}
			out += fmt.Sprintf("\n  %s: got %#v, want %#v", gv.Type().Field(i).Name, g, w)
		}
	}
	return out
}

func derefOr(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// sameRecords fails t unless got and want hold equal records in the same order.
func sameRecords(t *testing.T, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if d := diffRecords(got[i], want[i]); d != "" {
			t.Errorf("record %d differs:%s", i, d)
		}
	}
}

func messagesTurn(prompt, tokens []int32, logprobs []float32) messages.Turn {
	return messages.NewTurnWithPrompt(messages.Turn{Assistant: "x"}, prompt, tokens, logprobs)
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func appendRecords(path string, recs []Record) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return EncodeJSONL(f, recs)
}

func nanFloat() float64 { return math.NaN() }
