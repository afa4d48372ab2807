package external

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/swerl/swerl/internal/atomicfile"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/records"
)

// No polling goroutine outlives Train.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// episodes returns n finished episodes sampled from version, with advantages set,
// and two turns each (the second one a format error when i is odd).
func episodes(version, n int) []messages.EpisodeRecord {
	out := make([]messages.EpisodeRecord, n)
	for i := range out {
		var tr messages.Transcript
		tr = tr.Append(messages.NewTurnWithPrompt(messages.Turn{Index: 0, PolicyVersion: version, Assistant: "a0", Command: "ls", Observation: "o0"},
			[]int32{1, 2, 3}, []int32{10, 11}, []float32{-0.5, -1}))
		fe := ""
		if i%2 == 1 {
			fe = "no command block"
		}
		tr = tr.Append(messages.NewTurnWithPrompt(messages.Turn{Index: 1, PolicyVersion: version, Assistant: "a1", FormatError: fe, Observation: "o1"},
			[]int32{4}, []int32{12, 13, 14}, []float32{-0.1, -0.2, -0.3}))
		resolved := i%2 == 0
		r := messages.EpisodeRecord{
			Ref:    messages.EpisodeRef{Iteration: version, PolicyVersion: version, Group: i / 2, Sample: i % 2, TaskID: "task"},
			Task:   messages.TaskRef{ID: "task", Statement: "issue"},
			Status: messages.Finished, Stop: messages.StopSubmit, Transcript: tr, Resolved: resolved,
		}
		if resolved {
			r.Reward, r.Final = 1, 1
		}
		out[i] = r.WithAdvantage(float64(2*(i%2)) - 1)
	}
	return out
}

func batch(version, n int) messages.TrainBatch {
	return messages.NewTrainBatch(version, version, episodes(version, n))
}

// wantRecords is what the trainer must find in the batch's files.
func wantRecords(b messages.TrainBatch) []records.Record {
	var out []records.Record
	for _, e := range b.Records() {
		out = append(out, records.FromEpisode(e, true))
	}
	return out
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteJSON(path, json.RawMessage(data)); err != nil {
		t.Fatal(err)
	}
}

// fakeDirTrainer is the outside trainer of the directory protocol: it waits for
// batch.json of version, checks the manifest and the records (Parquet and JSONL)
// against want, and answers with answer written as served.json, or failed.json when
// fail is set. It returns when it has answered (or after an hour of fake time).
func fakeDirTrainer(t *testing.T, dir string, version int, want []records.Record, answer any, fail string) {
	t.Helper()
	bd := BatchDir(dir, version)
	for start := time.Now(); time.Since(start) < time.Hour; time.Sleep(time.Second) {
		data, err := os.ReadFile(filepath.Join(bd, BatchFile))
		if err != nil {
			continue
		}
		var m Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			t.Errorf("trainer: batch.json: %v", err)
			return
		}
		tokens := 0
		for _, r := range want {
			tokens += len(r.TokenIDs)
		}
		wantM := Manifest{Iteration: version, PolicyVersion: version, ExpectVersion: version + 1, Records: len(want),
			Tokens: tokens, AssistantTokens: 5 * len(want), Files: []string{RecordsJSONL, RecordsParquet}}
		if !reflect.DeepEqual(m, wantM) {
			t.Errorf("trainer: manifest %+v, want %+v", m, wantM)
		}
		pq, err := records.ReadParquet(filepath.Join(bd, RecordsParquet))
		if err != nil {
			t.Errorf("trainer: %v", err)
		}
		jl, err := records.ReadJSONL(filepath.Join(bd, RecordsJSONL))
		if err != nil {
			t.Errorf("trainer: %v", err)
		}
		for _, got := range [][]records.Record{pq, jl} {
			if len(got) != len(want) {
				t.Errorf("trainer: %d records, want %d", len(got), len(want))
			}
			for i := range got {
				if err := got[i].Validate(); err != nil {
					t.Errorf("trainer: %v", err)
				}
				if got[i].Advantage == nil {
					t.Errorf("trainer: record %d has no advantage", i)
				}
				if i < len(want) && !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("trainer: record %d = %+v, want %+v", i, got[i], want[i])
				}
			}
		}
		if fail != "" {
			writeJSON(t, filepath.Join(bd, FailedFile), map[string]string{"error": fail})
		} else {
			writeJSON(t, filepath.Join(bd, ServedFile), answer)
		}
		return
	}
	t.Errorf("trainer: no batch %d within an hour", version)
}

// trainCancelledMidWait checks that cancelling ctx ends Train's wait at once. Run in a
// synctest bubble with a poll interval of an hour: Train must return exactly when the
// cancel comes, 20ms into the wait, with context.Canceled and no new version.
func trainCancelledMidWait(t *testing.T, tr *Trainer) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	_, err := tr.Train(ctx, batch(0, 1))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "policy 1") {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d != 20*time.Millisecond {
		t.Errorf("Train returned after %v of fake time, want 20ms (the cancel)", d)
	}
	if tr.Version() != 0 {
		t.Errorf("Version = %d", tr.Version())
	}
}
