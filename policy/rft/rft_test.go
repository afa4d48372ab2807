package rft

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/records"
)

func ids(from, n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(from + i)
	}
	return out
}

func lps(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = -0.5
	}
	return out
}

// episode has three turns: a command, a format error, a submit. Turn i's prompt
// tokens are the system prompt and issue (turn 0) or the previous observation.
func episode(sample int, resolved bool) messages.EpisodeRecord {
	var tr messages.Transcript
	tr = tr.Append(messages.NewTurnWithPrompt(messages.Turn{Index: 0, Assistant: "A0", Command: "ls", Observation: "O0"},
		ids(100, 4), ids(200, 3), lps(3)))
	tr = tr.Append(messages.NewTurnWithPrompt(messages.Turn{Index: 1, Assistant: "A1 without a block", FormatError: "no command block",
		Observation: "O1: format error"}, ids(300, 2), ids(400, 2), lps(2)))
	tr = tr.Append(messages.NewTurnWithPrompt(messages.Turn{Index: 2, Assistant: "A2", Command: "submit", Observation: "O2 submitted"},
		ids(500, 3), ids(600, 1), lps(1)))
	r := messages.EpisodeRecord{
		Ref:    messages.EpisodeRef{Iteration: 2, PolicyVersion: 2, Group: 4, Sample: sample, TaskID: "task-1"},
		Task:   messages.TaskRef{ID: "task-1", Statement: "the <issue> & text"},
		Status: messages.Finished, Stop: messages.StopSubmit, Transcript: tr, Resolved: resolved,
	}
	if resolved {
		r.Reward, r.Final = 1, 1
	}
	return r
}

func TestBuildMasksFormatErrorsAndObservations(t *testing.T) {
	rec := records.FromEpisode(episode(0, true), false)
	before := append([]int8(nil), rec.LossMask...)
	ex, st := Build([]records.Record{rec}, Options{})
	if len(ex) != 1 {
		t.Fatalf("got %d examples, want 1", len(ex))
	}
	e := ex[0]
	if !reflect.DeepEqual(e.InputIDs, rec.TokenIDs) {
		t.Errorf("input_ids = %v, want the record's token_ids %v", e.InputIDs, rec.TokenIDs)
	}
	//            system+issue  A0       O0    A1 (format error)  O1       A2
	want := []int8{0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1}
	if !reflect.DeepEqual(e.LossMask, want) {
		t.Errorf("loss_mask = %v, want %v", e.LossMask, want)
	}
	if !reflect.DeepEqual(rec.LossMask, before) {
		t.Errorf("Build modified the record's loss_mask")
	}
	wantSt := Stats{Records: 1, Kept: 1, MaskedTurns: 1, TrainedTurns: 2, TrainedTokens: 4}
	if st != wantSt {
		t.Errorf("stats = %+v, want %+v", st, wantSt)
	}
	e.InputIDs[0] = -1
	if rec.TokenIDs[0] == -1 {
		t.Errorf("example shares the record's token_ids")
	}

	ex, st = Build([]records.Record{rec}, Options{TrainFormatErrors: true})
	want = []int8{0, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1}
	if !reflect.DeepEqual(ex[0].LossMask, want) || st.MaskedTurns != 0 || st.TrainedTokens != 6 {
		t.Errorf("TrainFormatErrors: loss_mask = %v, stats %+v", ex[0].LossMask, st)
	}
	if w := ex[0].Messages[3].Weight; w != 1 {
		t.Errorf("TrainFormatErrors: format-error message weight %d, want 1", w)
	}
}

func TestBuildMessages(t *testing.T) {
	rec := records.FromEpisode(episode(0, true), true)
	first := func(task messages.TaskRef) string { return "Issue " + task.ID + ": " + task.Statement }
	ex, _ := Build([]records.Record{rec}, Options{SystemPrompt: "SYS", FirstMessage: first})
	want := []Message{
		{Role: RoleSystem, Content: "SYS"},
		{Role: RoleUser, Content: "Issue task-1: the <issue> & text"},
		{Role: RoleAssistant, Content: "A0", Weight: 1},
		{Role: RoleUser, Content: "O0"},
		{Role: RoleAssistant, Content: "A1 without a block", Weight: 0},
		{Role: RoleUser, Content: "O1: format error"},
		{Role: RoleAssistant, Content: "A2", Weight: 1},
	}
	if !reflect.DeepEqual(ex[0].Messages, want) {
		t.Errorf("messages =\n%+v\nwant\n%+v", ex[0].Messages, want)
	}
	if e := ex[0]; e.TaskID != "task-1" || e.Iteration != 2 || e.PolicyVersion != 2 || e.Group != 4 || e.Sample != 0 {
		t.Errorf("source fields wrong: %+v", e)
	}

	// No system prompt and no FirstMessage: the issue as it is opens the chat.
	ex, _ = Build([]records.Record{rec}, Options{})
	if m := ex[0].Messages; m[0] != (Message{Role: RoleUser, Content: "the <issue> & text"}) || len(m) != 6 {
		t.Errorf("messages = %+v", m)
	}
}

func TestBuildFilters(t *testing.T) {
	resolved := records.FromEpisode(episode(0, true), true)
	unresolved := records.FromEpisode(episode(1, false), true)
	abandoned := records.FromEpisode(messages.Abandon(messages.EpisodeRef{Sample: 2, TaskID: "task-1"}, messages.TaskRef{ID: "task-1"},
		messages.Failure{Kind: messages.FailSandboxDied, Cause: "gone"}), false)
	abandoned.Resolved = true // even if a record claimed it, an abandoned episode was never graded
	invalid := records.FromEpisode(episode(3, true), true)
	invalid.LossMask = invalid.LossMask[1:]
	empty := records.FromEpisode(messages.EpisodeRecord{Ref: messages.EpisodeRef{Sample: 4, TaskID: "task-2"},
		Status: messages.Finished, Resolved: true}, true)
	second := records.FromEpisode(episode(5, true), true)

	ex, st := Build([]records.Record{resolved, unresolved, abandoned, invalid, empty, second}, Options{})
	want := Stats{Records: 6, Kept: 2, DroppedUnresolved: 1, DroppedAbandoned: 1, DroppedInvalid: 1, DroppedEmpty: 1,
		MaskedTurns: 2, TrainedTurns: 4, TrainedTokens: 8}
	if st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	if len(ex) != 2 || ex[0].Sample != 0 || ex[1].Sample != 5 {
		t.Errorf("kept samples %v, want 0 and 5 in order", ex)
	}
}

func TestWriteJSONL(t *testing.T) {
	rec := records.FromEpisode(episode(0, true), true)
	ex, _ := Build([]records.Record{rec, rec}, Options{SystemPrompt: "SYS"})
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, ex); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	if !strings.Contains(lines[0], `"content":"the <issue> & text"`) {
		t.Errorf("text escaped or missing: %s", lines[0])
	}
	var raw struct {
		TaskID   string           `json:"task_id"`
		Messages []map[string]any `json:"messages"`
		InputIDs []int32          `json:"input_ids"`
		LossMask []int8           `json:"loss_mask"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &raw); err != nil {
		t.Fatal(err)
	}
	if raw.TaskID != "task-1" || !reflect.DeepEqual(raw.InputIDs, ex[0].InputIDs) || !reflect.DeepEqual(raw.LossMask, ex[0].LossMask) {
		t.Errorf("decoded %+v", raw)
	}
	for i, m := range raw.Messages {
		w, has := m["weight"]
		if (m["role"] == RoleAssistant) != has {
			t.Errorf("message %d (%v): weight present = %v; want it exactly on assistant messages", i, m["role"], has)
		}
		if has && w != float64(ex[0].Messages[i].Weight) {
			t.Errorf("message %d: weight %v, want %d", i, w, ex[0].Messages[i].Weight)
		}
	}
	var back Example
	if err := json.Unmarshal([]byte(lines[1]), &back); err != nil || !reflect.DeepEqual(back, ex[1]) {
		t.Errorf("round trip: %+v, %v; want %+v", back, err, ex[1])
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, bytes.ErrTooLarge }

func TestWriteJSONLError(t *testing.T) {
	ex, _ := Build([]records.Record{records.FromEpisode(episode(0, true), true)}, Options{})
	if err := WriteJSONL(failingWriter{}, ex); err == nil || !strings.Contains(err.Error(), "rft: write") {
		t.Errorf("err = %v", err)
	}
}
