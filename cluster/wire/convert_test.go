package wire

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/swerl/swerl/messages"
)

func fullRef() messages.EpisodeRef {
	return messages.EpisodeRef{Iteration: 3, PolicyVersion: 4, Group: 12, Sample: 5, TaskID: "astropy__astropy-12907"}
}

func fullTask() messages.TaskRef {
	return messages.TaskRef{ID: "astropy__astropy-12907", Statement: "separability_matrix is wrong for nested models"}
}

func fullFailure() messages.Failure {
	return messages.Failure{Kind: messages.FailSandboxDied, Retryable: true, Cause: "container exited 137"}
}

// fullTurn is turn i with every field set, and with prompt, tokens and log-probs of
// lengths that differ from turn to turn.
func fullTurn(i int) messages.Turn {
	prompt := make([]int32, 3+i)
	tokens := make([]int32, 2+2*i)
	logprobs := make([]float32, len(tokens))
	for j := range prompt {
		prompt[j] = int32(1000*i + j + 1)
	}
	for j := range tokens {
		tokens[j] = int32(-7*i - j - 1) // negative ids exercise the varint encoding
		logprobs[j] = -0.125 * float32(j+1)
	}
	return messages.NewTurnWithPrompt(messages.Turn{
		Index:         i,
		PolicyVersion: 4,
		Assistant:     "let me look\n```bash\nls\n```",
		Command:       "ls",
		FormatError:   "two command blocks",
		Observation:   "setup.py\nastropy/",
		ExitCode:      2 + i,
		TimedOut:      true,
		GenerateTime:  time.Duration(1500+i) * time.Millisecond,
		ExecTime:      time.Duration(30+i) * time.Millisecond,
	}, prompt, tokens, logprobs)
}

func fullTranscript(n int) messages.Transcript {
	var tr messages.Transcript
	for i := range n {
		tr = tr.Append(fullTurn(i + 1)) // from 1: every field of every turn non-zero
	}
	return tr
}

func fullRecord() messages.EpisodeRecord {
	return messages.EpisodeRecord{
		Ref:         fullRef(),
		Task:        fullTask(),
		Status:      messages.Abandoned,
		Stop:        messages.StopTimeout,
		Failure:     fullFailure(),
		Attempts:    2,
		Restarts:    1,
		Retries:     3,
		Stale:       4,
		Transcript:  fullTranscript(4),
		Patch:       "diff --git a/x b/x\n",
		Resolved:    true,
		Reward:      1,
		TurnPenalty: -0.25,
		Final:       0.75,
		Advantage:   1.5,
		Duration:    42*time.Minute + 7*time.Nanosecond,
	}
}

func fullGenerateReply() messages.GenerateReply {
	return messages.NewGenerateReply(messages.GenerateReply{
		Ref:           fullRef(),
		Attempt:       2,
		Turn:          7,
		PolicyVersion: 4,
		Text:          "```bash\npytest -x\n```",
		Overflow:      true,
		Elapsed:       1234 * time.Millisecond,
	}, []int32{5, -6, 7}, []float32{-0.5, -0.25, -2}).WithPrompt([]int32{1, 2, 3, 4})
}

var (
	testFence = &Fence{Head: "head-7f3a", Attempt: 2}
	testShim  = &PID{Address: "10.0.0.5:8090", Id: "shim/k3/g12/s5"}
)

// viaBytes sends m through proto.Marshal and proto.Unmarshal.
func viaBytes[M proto.Message](t *testing.T, m M) M {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("marshal %T: %v", m, err)
	}
	out := m.ProtoReflect().Type().New().Interface().(M)
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatalf("unmarshal %T: %v", m, err)
	}
	if !proto.Equal(m, out) {
		t.Fatalf("%T changed through the wire:\n sent %v\n got  %v", m, m, out)
	}
	return out
}

// allFieldsSet fails if a field of exported struct v is zero: the fixtures must set
// everything, or a forgotten field would round-trip as zero unnoticed.
func allFieldsSet(t *testing.T, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		if f := rv.Type().Field(i); f.IsExported() && rv.Field(i).IsZero() {
			t.Errorf("fixture %T leaves %s zero", v, f.Name)
		}
	}
}

// allProtoFieldsSet fails if any field of m, or of a message inside it, is unset: a
// field added to wire.proto but not to the conversion shows up here.
func allProtoFieldsSet(t *testing.T, path string, m protoreflect.Message) {
	t.Helper()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		name := path + "." + string(fd.Name())
		if !m.Has(fd) {
			t.Errorf("%s is not set by the conversion", name)
			continue
		}
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := m.Get(fd).List()
			for j := range l.Len() {
				allProtoFieldsSet(t, name, l.Get(j).Message())
			}
		case fd.Message() != nil:
			allProtoFieldsSet(t, name, m.Get(fd).Message())
		}
	}
}

func TestEpisodeRecordRoundTrip(t *testing.T) {
	in := fullRecord()
	allFieldsSet(t, in)
	w := RecordOf(in)
	allProtoFieldsSet(t, "EpisodeRecord", w.ProtoReflect())
	if len(w.Turns) != 4 {
		t.Fatalf("wire record has %d turns, want 4", len(w.Turns))
	}

	for name, got := range map[string]messages.EpisodeRecord{
		"direct":        w.Msg(),
		"through bytes": viaBytes(t, w).Msg(),
	} {
		if !reflect.DeepEqual(got, in) {
			t.Errorf("%s: record changed:\n got  %+v\n want %+v", name, got, in)
		}
		// The same, through the accessors, so a failure says which turn differs.
		gt, wt := got.Transcript.Turns(), in.Transcript.Turns()
		if len(gt) != len(wt) {
			t.Fatalf("%s: %d turns, want %d", name, len(gt), len(wt))
		}
		for i := range wt {
			if !reflect.DeepEqual(gt[i].AppendPrompt(nil), wt[i].AppendPrompt(nil)) ||
				!reflect.DeepEqual(gt[i].AppendTokens(nil), wt[i].AppendTokens(nil)) ||
				!reflect.DeepEqual(gt[i].AppendLogprobs(nil), wt[i].AppendLogprobs(nil)) {
				t.Errorf("%s: turn %d: prompt/tokens/logprobs differ", name, i)
			}
		}
	}
}

func TestFinishedRecordRoundTrip(t *testing.T) {
	// The common case: no failure, no turns' tokens (a text-only policy).
	in := messages.EpisodeRecord{
		Ref: fullRef(), Task: fullTask(), Status: messages.Finished, Stop: messages.StopSubmit,
		Attempts: 1, Transcript: messages.Transcript{}.Append(messages.Turn{Index: 0, Command: "submit"}),
		Resolved: true, Reward: 1, Final: 1,
	}
	if got := viaBytes(t, RecordOf(in)).Msg(); !reflect.DeepEqual(got, in) {
		t.Errorf("record changed:\n got  %+v\n want %+v", got, in)
	}
	if got := RecordOf(messages.EpisodeRecord{}).Msg(); !reflect.DeepEqual(got, messages.EpisodeRecord{}) {
		t.Errorf("zero record came back as %+v", got)
	}
}

func TestConversionCopiesSlices(t *testing.T) {
	w := TurnOf(fullTurn(1))
	m := w.Msg()
	w.Prompt[0], w.Tokens[0], w.Logprobs[0] = 99, 99, 99
	if got := m.AppendPrompt(nil)[0]; got == 99 {
		t.Error("messages.Turn shares its prompt with the wire turn")
	}
	if got := m.AppendTokens(nil)[0]; got == 99 {
		t.Error("messages.Turn shares its tokens with the wire turn")
	}
	if got := m.AppendLogprobs(nil)[0]; got == 99 {
		t.Error("messages.Turn shares its logprobs with the wire turn")
	}

	r := GenerateReplyOf(testFence, fullGenerateReply())
	mr := r.Msg()
	r.Tokens[0] = 99
	if mr.Tokens()[0] == 99 {
		t.Error("messages.GenerateReply shares its tokens with the wire reply")
	}
}

func TestEmptyAndNilSlicesAreTheSame(t *testing.T) {
	empty := &Turn{Index: 1, Prompt: []int32{}, Tokens: []int32{}, Logprobs: []float32{}}
	none := &Turn{Index: 1}
	if !reflect.DeepEqual(empty.Msg(), none.Msg()) {
		t.Errorf("empty slices give %+v, nil ones %+v", empty.Msg(), none.Msg())
	}
	if !reflect.DeepEqual(TurnOf(empty.Msg()), TurnOf(none.Msg())) {
		t.Error("the wire forms of the two differ")
	}
	if !proto.Equal(empty, none) {
		t.Error("proto.Equal tells empty from nil slices")
	}
	if got := TranscriptMsg([]*Turn{}); got.Len() != 0 || !reflect.DeepEqual(got, messages.Transcript{}) {
		t.Errorf("empty turn list gives transcript %+v", got)
	}
	if got := Transcript(messages.Transcript{}); got != nil {
		t.Errorf("empty transcript gives %v, want nil", got)
	}
	rEmpty := (&GenerateReply{Turn: 1, Prompt: []int32{}, Tokens: []int32{}, Logprobs: []float32{}}).Msg()
	rNone := (&GenerateReply{Turn: 1}).Msg()
	if !reflect.DeepEqual(rEmpty, rNone) {
		t.Errorf("empty reply slices give %+v, nil ones %+v", rEmpty, rNone)
	}
}

func TestNilMessagesGiveZeroValues(t *testing.T) {
	checks := []struct {
		name      string
		got, want any
	}{
		{"EpisodeRef", (*EpisodeRef)(nil).Msg(), messages.EpisodeRef{}},
		{"TaskRef", (*TaskRef)(nil).Msg(), messages.TaskRef{}},
		{"Failure", (*Failure)(nil).Msg(), messages.Failure{}},
		{"Turn", (*Turn)(nil).Msg(), messages.Turn{}},
		{"EpisodeRecord", (*EpisodeRecord)(nil).Msg(), messages.EpisodeRecord{}},
		{"GenerateRequest", (*GenerateRequest)(nil).Msg(), messages.GenerateRequest{}},
		{"GenerateReply", (*GenerateReply)(nil).Msg(), messages.GenerateReply{}},
		{"GenerateFailed", (*GenerateFailed)(nil).Msg(), messages.GenerateFailed{}},
		{"empty EpisodeRecord", (&EpisodeRecord{}).Msg(), messages.EpisodeRecord{}},
		{"transcript with a nil turn", TranscriptMsg([]*Turn{nil}).Turns(), []messages.Turn{{}}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.name, c.got, c.want)
		}
	}
}

func TestGenerateRequestRoundTrip(t *testing.T) {
	deadline := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	in := messages.GenerateRequest{
		Ref: fullRef(), Attempt: 2, Turn: 3, Task: fullTask(),
		Transcript: fullTranscript(3), Deadline: deadline,
	}
	allFieldsSet(t, in)
	w := GenerateRequestOf(testFence, in, testShim)
	allProtoFieldsSet(t, "GenerateRequest", w.ProtoReflect())
	if w.Fence != testFence || w.Shim != testShim {
		t.Error("fence or shim not carried")
	}

	for name, got := range map[string]messages.GenerateRequest{
		"direct":        w.Msg(),
		"through bytes": viaBytes(t, w).Msg(),
	} {
		if !got.Deadline.Equal(deadline) {
			t.Errorf("%s: deadline %v, want %v", name, got.Deadline, deadline)
		}
		got.Deadline, in.Deadline = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, in) {
			t.Errorf("%s: request changed:\n got  %+v\n want %+v", name, got, in)
		}
		in.Deadline = deadline
	}
}

func TestGenerateRequestDeadline(t *testing.T) {
	local := time.Now() // with a monotonic reading and the local zone
	cases := []struct {
		name string
		in   time.Time
	}{
		{"zero stays zero", time.Time{}},
		{"local time with monotonic reading", local},
		{"before 1970", time.Date(1969, 7, 20, 20, 17, 40, 1, time.UTC)},
		{"other zone", time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("UTC+9", 9*3600))},
	}
	for _, c := range cases {
		w := viaBytes(t, GenerateRequestOf(nil, messages.GenerateRequest{Deadline: c.in}, nil))
		got := w.Msg().Deadline
		if c.in.IsZero() {
			if w.DeadlineUnixNs != 0 || !got.IsZero() {
				t.Errorf("%s: zero deadline went out as %d and came back as %v", c.name, w.DeadlineUnixNs, got)
			}
			continue
		}
		if !got.Equal(c.in) {
			t.Errorf("%s: deadline %v came back as %v", c.name, c.in, got)
		}
	}
}

func TestGenerateReplyRoundTrip(t *testing.T) {
	in := fullGenerateReply()
	allFieldsSet(t, in)
	w := GenerateReplyOf(testFence, in)
	allProtoFieldsSet(t, "GenerateReply", w.ProtoReflect())

	for name, got := range map[string]messages.GenerateReply{
		"direct":        w.Msg(),
		"through bytes": viaBytes(t, w).Msg(),
	} {
		if !reflect.DeepEqual(got, in) {
			t.Errorf("%s: reply changed:\n got  %+v\n want %+v", name, got, in)
		}
		if !reflect.DeepEqual(got.Prompt(), in.Prompt()) || !reflect.DeepEqual(got.Tokens(), in.Tokens()) ||
			!reflect.DeepEqual(got.Logprobs(), in.Logprobs()) {
			t.Errorf("%s: prompt/tokens/logprobs differ", name)
		}
	}

	// A reply of a text-only policy carries no slices at all.
	text := messages.NewGenerateReply(messages.GenerateReply{Ref: fullRef(), Turn: 1, Text: "hi"}, nil, nil)
	if got := viaBytes(t, GenerateReplyOf(testFence, text)).Msg(); !reflect.DeepEqual(got, text) {
		t.Errorf("text-only reply changed:\n got  %+v\n want %+v", got, text)
	}
}

func TestGenerateFailedRoundTrip(t *testing.T) {
	in := messages.GenerateFailed{
		Ref: fullRef(), Attempt: 2, Turn: 5,
		Failure: messages.Failure{Kind: messages.FailGenerate, Retryable: true, Cause: "502 from vllm"},
	}
	allFieldsSet(t, in)
	w := GenerateFailedOf(testFence, in)
	allProtoFieldsSet(t, "GenerateFailed", w.ProtoReflect())
	for name, got := range map[string]messages.GenerateFailed{
		"direct":        w.Msg(),
		"through bytes": viaBytes(t, w).Msg(),
	} {
		if got != in {
			t.Errorf("%s: got %+v, want %+v", name, got, in)
		}
	}
}

func TestFailureKindsRoundTrip(t *testing.T) {
	for _, k := range []messages.FailureKind{
		messages.FailSandboxStart, messages.FailSandboxDied, messages.FailGenerate, messages.FailGrade,
		messages.FailCrashed, messages.FailCancelled, messages.FailStale, "some_future_kind",
	} {
		for _, retryable := range []bool{false, true} {
			in := messages.Failure{Kind: k, Retryable: retryable, Cause: "why"}
			if got := viaBytes(t, FailureOf(in)).Msg(); got != in {
				t.Errorf("got %+v, want %+v", got, in)
			}
		}
	}
}
