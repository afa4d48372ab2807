package tiny

import (
	"testing"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
)

func TestRenderRequest(t *testing.T) {
	tk := NewTokenizer(testWords)
	w := func(s string) int32 { return tk.must(t, s) }
	sampled := []int32{FenceOp, Newline, w("submit"), Newline, FenceCl, EOS}
	var tr messages.Transcript
	tr = tr.Append(messages.Turn{Index: 0, Assistant: "open mod2.py", FormatError: "command not extractable", Observation: "the bug"})
	tr = tr.Append(messages.NewTurn(messages.Turn{Index: 1, Assistant: "ignored: tokens win", Observation: "line 15"},
		sampled, []float32{-1, -1, -1, -1, -1, -1}))
	req := policy.Request{Task: messages.TaskRef{ID: "t", Statement: "fix the bug\nin mod2.py"}, Transcript: tr}
	got := tk.RenderRequest(req)
	want := []int32{Obs, w("fix"), w("the"), w("bug"), Newline, w("in"), w("mod2.py"),
		Cmd, w("open"), w("mod2.py"), EOS, Obs, w("the"), w("bug"),
		Cmd, FenceOp, Newline, w("submit"), Newline, FenceCl, EOS, Obs, w("line"), w("15"),
		Cmd}
	if !equalIDs(got, want) {
		t.Fatalf("RenderRequest:\n got %v\nwant %v", got, want)
	}
	ids, spans := tk.Render(req.Task.Statement, tr.Turns())
	if !equalIDs(ids, want[:len(want)-1]) {
		t.Fatalf("Render differs from RenderRequest without its final <cmd>")
	}
	wantSpans := []Span{{Start: 8, End: 11, Turn: 0, FormatError: true}, {Start: 15, End: 21, Turn: 1, Sampled: true}}
	if len(spans) != len(wantSpans) {
		t.Fatalf("spans %v, want %v", spans, wantSpans)
	}
	for i := range spans {
		if spans[i] != wantSpans[i] {
			t.Errorf("span %d = %+v, want %+v", i, spans[i], wantSpans[i])
		}
	}
	if again := tk.RenderRequest(req); !equalIDs(again, got) {
		t.Fatal("RenderRequest is not deterministic")
	}
}
