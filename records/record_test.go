package records

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestFromEpisode(t *testing.T) {
	r := FromEpisode(resolvedEpisode(), true)
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	wantIDs := append(append(append(append(append(ids(100, 5), ids(200, 3)...), ids(300, 2)...), ids(400, 4)...), ids(500, 3)...), ids(600, 2)...)
	if !reflect.DeepEqual(r.TokenIDs, wantIDs) {
		t.Errorf("token_ids = %v, want %v", r.TokenIDs, wantIDs)
	}
	wantMask := []int8{0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1}
	if !reflect.DeepEqual(r.LossMask, wantMask) {
		t.Errorf("loss_mask = %v, want %v", r.LossMask, wantMask)
	}
	wantLP := []float32{0, 0, 0, 0, 0, -0.125, -0.25, -0.375, 0, 0, -0.125, -0.25, -0.375, -0.5, 0, 0, 0, -0.125, -0.25}
	if !reflect.DeepEqual(r.Logprobs, wantLP) {
		t.Errorf("logprobs = %v, want %v", r.Logprobs, wantLP)
	}
	if r.Advantage == nil || *r.Advantage != 0.75 {
		t.Errorf("advantage = %v, want 0.75", derefOr(r.Advantage))
	}
	if r.TaskID != "repo__issue-1" || r.Issue != "Fix the <b>bug</b> & it.\nIt crashes." || r.Iteration != 3 || r.PolicyVersion != 3 ||
		r.Group != 1 || r.Sample != 2 || r.Status != "finished" || r.StopReason != "submit" || r.Stale != 1 ||
		!r.Resolved || r.Reward != 1 || r.RewardFinal != 1 || r.NumTurns != 3 || r.DurationS != 4.25 ||
		r.Patch != "diff --git a/a.py b/a.py\n" {
		t.Errorf("scalar fields wrong: %+v", r)
	}
	want1 := Turn{Index: 1, PolicyVersion: 3, Assistant: "no block here", FormatError: "no command block",
		Observation: "error: your reply held no command block", GenerateS: 1, PromptTokens: 2, AssistantTokens: 4}
	if r.Turns[1] != want1 {
		t.Errorf("turn 1 = %+v, want %+v", r.Turns[1], want1)
	}
	if r.Turns[0].GenerateS != 1.5 || r.Turns[0].ExecS != 0.02 || r.Turns[2].ExecS != 2 {
		t.Errorf("turn timings wrong: %+v", r.Turns)
	}
	if got := r.AssistantTokens(); got != 9 {
		t.Errorf("AssistantTokens = %d, want 9", got)
	}

	a := FromEpisode(abandonedEpisode(), false)
	if a.Advantage != nil || a.Status != "abandoned" || a.StopReason != "abandoned" || a.FailureKind != "sandbox_died" ||
		a.FailureCause != "container exited 137" || a.Attempts != 3 || a.Restarts != 1 || a.Retries != 2 ||
		!a.Turns[0].TimedOut || a.Turns[0].ExitCode != 137 {
		t.Errorf("abandoned record wrong: %+v", a)
	}

	e := FromEpisode(emptyEpisode(), false)
	if e.Turns == nil || e.TokenIDs == nil || e.LossMask == nil || e.Logprobs == nil {
		t.Errorf("empty record has nil slices: %+v", e)
	}
	for _, r := range sampleRecords() {
		if err := r.Validate(); err != nil {
			t.Errorf("sample record invalid: %v", err)
		}
	}
}

// A turn that reports fewer log-probs than tokens gets 0 for the missing ones (still
// valid: 0 <= 0), and extra log-probs are ignored.
func TestFromEpisodeShortLogprobs(t *testing.T) {
	e := emptyEpisode()
	e.Transcript = e.Transcript.Append(messagesTurn(ids(0, 1), ids(10, 3), lps(1)))
	r := FromEpisode(e, false)
	if want := []float32{0, -0.125, 0, 0}; !reflect.DeepEqual(r.Logprobs, want) {
		t.Errorf("logprobs = %v, want %v", r.Logprobs, want)
	}
	if err := r.Validate(); err != nil {
		t.Error(err)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(r *Record)
		want   string
	}{
		{"mask shorter", func(r *Record) { r.LossMask = r.LossMask[1:] }, "lengths differ"},
		{"logprobs longer", func(r *Record) { r.Logprobs = append(r.Logprobs, 0) }, "lengths differ"},
		{"mask not 0/1", func(r *Record) { r.LossMask[5] = 2 }, "want 0 or 1"},
		{"logprob where mask 0", func(r *Record) { r.Logprobs[0] = -1 }, "where loss_mask is 0"},
		{"positive logprob", func(r *Record) { r.Logprobs[5] = 0.5 }, "want a finite value <= 0"},
		{"NaN logprob", func(r *Record) { r.Logprobs[5] = float32(math.NaN()) }, "want a finite value <= 0"},
		{"num_turns", func(r *Record) { r.NumTurns = 2 }, "num_turns 2 but 3 turns"},
		{"token count", func(r *Record) { r.Turns[0].PromptTokens = 4 }, "prompt+assistant tokens"},
		{"negative count", func(r *Record) { r.Turns[0].PromptTokens = -1 }, "negative token counts"},
		{"mask sum", func(r *Record) { r.Turns[2].PromptTokens, r.Turns[2].AssistantTokens = 4, 1 }, "loss_mask has 9 ones but the turns have 8 assistant tokens"},
		{"mask on prompt", func(r *Record) { r.LossMask[0], r.LossMask[5], r.Logprobs[5] = 1, 0, 0 }, "loss_mask[0] = 1 on a prompt token of turn 0"},
		{"mask shifted", func(r *Record) {
			r.Turns[0].PromptTokens, r.Turns[0].AssistantTokens = 4, 4
			r.Turns[1].PromptTokens, r.Turns[1].AssistantTokens = 3, 3
		}, "loss_mask[4] = 0 on an assistant token of turn 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := FromEpisode(resolvedEpisode(), true)
			c.mutate(&r)
			err := r.Validate()
			if err == nil {
				t.Fatalf("Validate accepted a broken record (%s)", c.name)
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate = %v, want ErrInvalid with %q", err, c.want)
			}
			if !strings.Contains(err.Error(), "k3/g1/s2(repo__issue-1)") {
				t.Errorf("error does not name the record: %v", err)
			}
		})
	}
}

func TestJSONLRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	want := sampleRecords()
	if err := WriteJSONL(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, want)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"issue":"Fix the <b>bug</b> & it.\nIt crashes."`) {
		t.Errorf("issue text escaped in JSONL:\n%s", b)
	}
}

func TestJSONLNullSlicesNormalised(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	writeFile(t, path, `{"task_id":"x","advantage":null,"turns":null,"token_ids":null,"loss_mask":null,"logprobs":null}`+"\n\n")
	got, err := ReadJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Record{TaskID: "x"}.normalize()
	sameRecords(t, got, []Record{want})
}

func TestParquetRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.parquet")
	want := sampleRecords()
	if err := WriteParquet(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadParquet(path)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, want)
	for _, r := range got {
		if err := r.Validate(); err != nil {
			t.Error(err)
		}
	}
}

func TestParquetEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.parquet")
	if err := WriteParquet(path, nil); err != nil {
		t.Fatal(err)
	}
	got, err := ReadParquet(path)
	if err != nil || len(got) != 0 {
		t.Fatalf("ReadParquet(empty) = %d records, %v", len(got), err)
	}
}

func TestReadJSONLErrors(t *testing.T) {
	dir := t.TempDir()
	good := sampleRecords()

	t.Run("truncated last line", func(t *testing.T) {
		path := filepath.Join(dir, "trunc.jsonl")
		if err := WriteJSONL(path, good); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, `{"task_id":"half","turns":[{"ind`)
		got, err := ReadJSONL(path)
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("err = %v, want ErrTruncated", err)
		}
		if !strings.Contains(err.Error(), path+":5") {
			t.Errorf("error does not name %s:5: %v", path, err)
		}
		sameRecords(t, got, good)
	})
	t.Run("bad line in the middle", func(t *testing.T) {
		path := filepath.Join(dir, "bad.jsonl")
		if err := WriteJSONL(path, good[:1]); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, "{not json}\n")
		if err := appendRecords(path, good[1:]); err != nil {
			t.Fatal(err)
		}
		got, err := ReadJSONL(path)
		if err == nil || errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), path+":2") {
			t.Fatalf("err = %v, want a bad-line error naming %s:2", err, path)
		}
		if got != nil {
			t.Errorf("got %d records with a corrupt file", len(got))
		}
	})
	t.Run("bad complete last line", func(t *testing.T) {
		path := filepath.Join(dir, "badlast.jsonl")
		writeFile(t, path, `{"task_id":"a"}`+"\n"+`{"task_id":`+"\n")
		_, err := ReadJSONL(path)
		if err == nil || errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), path+":2") {
			t.Fatalf("err = %v, want a bad-line error naming %s:2", err, path)
		}
	})
	t.Run("whole last line without newline", func(t *testing.T) {
		path := filepath.Join(dir, "nonl.jsonl")
		writeFile(t, path, `{"task_id":"a"}`)
		got, err := ReadJSONL(path)
		if err != nil || len(got) != 1 || got[0].TaskID != "a" {
			t.Fatalf("ReadJSONL = %v, %v", got, err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := ReadJSONL(filepath.Join(dir, "nope.jsonl"))
		if err == nil || !strings.Contains(err.Error(), "nope.jsonl") {
			t.Fatalf("err = %v", err)
		}
	})
}
