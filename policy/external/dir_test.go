package external

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/swerl/swerl/messages"
)

// The trainer gets batch k, checks its records, answers with policy k+1: Train
// returns the trainer's stats and the version advances, twice in a row.
func TestDirHandshake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		tr, err := NewDir(dir, Options{Start: 3})
		if err != nil {
			t.Fatal(err)
		}
		b := batch(3, 4)
		var wg sync.WaitGroup
		wg.Go(func() {
			fakeDirTrainer(t, dir, 3, wantRecords(b), map[string]any{"version": 4, "model": "policy-4",
				"stats": map[string]any{"loss": 0.25, "steps": 2, "tokens": 20, "grad_norm": 1.5}}, "")
		})
		start := time.Now()
		st, err := tr.Train(t.Context(), b)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("Train took %v of fake time; it polls every 2s", time.Since(start))
		}
		want := messages.TrainStats{Loss: 0.25, Steps: 2, Tokens: 20, GradNorm: 1.5, Trajectories: 4}
		if st != want {
			t.Errorf("stats = %+v, want %+v", st, want)
		}
		if tr.Version() != 4 {
			t.Errorf("Version = %d, want 4", tr.Version())
		}
		if m, ok := tr.Served(4); !ok || m != "policy-4" {
			t.Errorf("Served(4) = %q, %v", m, ok)
		}
		if _, ok := tr.Served(3); ok {
			t.Errorf("Served(3) reported a model")
		}

		// An empty batch (every group filtered out) still goes through the trainer.
		b = batch(4, 0)
		wg.Go(func() { fakeDirTrainer(t, dir, 4, nil, map[string]any{"version": 5}, "") })
		st, err = tr.Train(t.Context(), b)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if !st.SkippedEmpty || tr.Version() != 5 {
			t.Errorf("stats %+v, version %d", st, tr.Version())
		}
		if _, ok := tr.Served(5); ok {
			t.Errorf("Served(5) reported a model the trainer did not name")
		}
	})
}

// failed.json ends Train with the trainer's message; Train again resends the batch
// (failed.json removed), and a served answer then succeeds.
func TestDirFailedThenRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		tr, _ := NewDir(dir, Options{})
		b := batch(0, 2)
		var wg sync.WaitGroup
		wg.Go(func() { fakeDirTrainer(t, dir, 0, wantRecords(b), nil, "CUDA out of memory") })
		_, err := tr.Train(t.Context(), b)
		wg.Wait()
		if err == nil || !strings.Contains(err.Error(), "CUDA out of memory") || !strings.Contains(err.Error(), dir) {
			t.Fatalf("err = %v, want the trainer's message and the directory", err)
		}
		if tr.Version() != 0 {
			t.Errorf("Version = %d after a failure, want 0", tr.Version())
		}

		wg.Go(func() { fakeDirTrainer(t, dir, 0, wantRecords(b), map[string]any{"version": 1}, "") })
		if _, err := tr.Train(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if tr.Version() != 1 {
			t.Errorf("Version = %d, want 1", tr.Version())
		}
		if _, err := os.Stat(filepath.Join(BatchDir(dir, 0), FailedFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("failed.json still there after the retry: %v", err)
		}
	})
}

// No answer within the timeout (the default 2h, in fake time): a clear error naming
// the file swerl expected, and the version stays.
func TestDirTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		tr, _ := NewDir(dir, Options{Start: 7})
		start := time.Now()
		_, err := tr.Train(t.Context(), batch(7, 1))
		want := "external trainer at " + dir + " did not report policy 8 served within 2h0m0s: expected " +
			filepath.Join(dir, "batch-000007", "served.json")
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v\nwant %s", err, want)
		}
		if waited := time.Since(start); waited != 2*time.Hour {
			t.Errorf("waited %v, want 2h", waited)
		}
		if tr.Version() != 7 {
			t.Errorf("Version = %d, want 7", tr.Version())
		}
	})
}

// A served.json that is there but not JSON is mentioned at the timeout.
func TestDirUnreadableAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		tr, _ := NewDir(dir, Options{Timeout: time.Minute})
		go func() {
			time.Sleep(5 * time.Second)
			os.WriteFile(filepath.Join(BatchDir(dir, 0), ServedFile), []byte(`{"version":`), 0o644)
		}()
		_, err := tr.Train(t.Context(), batch(0, 1))
		if err == nil || !strings.Contains(err.Error(), "within 1m0s") || !strings.Contains(err.Error(), "unreadable") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestDirWrongVersion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		tr, _ := NewDir(dir, Options{Start: 2})
		b := batch(2, 1)
		var wg sync.WaitGroup
		wg.Go(func() { fakeDirTrainer(t, dir, 2, wantRecords(b), map[string]any{"version": 9}, "") })
		_, err := tr.Train(t.Context(), b)
		wg.Wait()
		if err == nil || !strings.Contains(err.Error(), "reported policy 9 served") || !strings.Contains(err.Error(), "expected 3") {
			t.Fatalf("err = %v", err)
		}
		if tr.Version() != 2 {
			t.Errorf("Version = %d, want 2", tr.Version())
		}
	})
}

// A restart after the trainer answered: served.json is read and nothing is written.
func TestDirRestartAfterAnswer(t *testing.T) {
	dir := t.TempDir()
	writeJSON(t, filepath.Join(BatchDir(dir, 5), ServedFile), map[string]any{"version": 6, "model": "m6"})
	tr, _ := NewDir(dir, Options{Start: 5, Sleep: func(context.Context, time.Duration) error {
		t.Error("Train waited although the answer was there")
		return nil
	}})
	if _, err := tr.Train(t.Context(), batch(5, 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(BatchDir(dir, 5), BatchFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the batch was written again: %v", err)
	}
	if m, ok := tr.Served(6); tr.Version() != 6 || m != "m6" || !ok {
		t.Errorf("Version %d, Served(6) = %q %v", tr.Version(), m, ok)
	}
}

// A restart while the trainer trains: batch.json is left as it is, Train waits. The
// Sleep hook plays the trainer, deterministically.
func TestDirRestartWhileTraining(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(BatchDir(dir, 1), BatchFile)
	writeJSON(t, manifest, map[string]any{"iteration": 1, "policy_version": 1, "marker": "old"})
	polls := 0
	tr, _ := NewDir(dir, Options{Start: 1, Sleep: func(ctx context.Context, d time.Duration) error {
		if d != DefaultPoll {
			t.Errorf("slept %v, want the default poll %v", d, DefaultPoll)
		}
		if polls++; polls == 3 {
			writeJSON(t, filepath.Join(BatchDir(dir, 1), ServedFile), map[string]any{"version": 2})
		}
		return nil
	}})
	if _, err := tr.Train(t.Context(), batch(1, 2)); err != nil {
		t.Fatal(err)
	}
	if polls != 3 || tr.Version() != 2 {
		t.Errorf("polls %d, version %d", polls, tr.Version())
	}
	data, _ := os.ReadFile(manifest)
	if !strings.Contains(string(data), `"old"`) {
		t.Errorf("batch.json was rewritten: %s", data)
	}
	if _, err := os.Stat(filepath.Join(BatchDir(dir, 1), RecordsParquet)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("records written again: %v", err)
	}
}

func TestDirCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		tr, _ := NewDir(dir, Options{Poll: time.Hour})
		trainCancelledMidWait(t, tr)
		if _, err := os.Stat(filepath.Join(BatchDir(dir, 0), BatchFile)); err != nil {
			t.Errorf("the batch was not handed over before the wait: %v", err)
		}
	})
}

func TestTrainWrongVersion(t *testing.T) {
	dir := t.TempDir()
	tr, _ := NewDir(dir, Options{Start: 2})
	_, err := tr.Train(t.Context(), batch(1, 1))
	if err == nil || !strings.Contains(err.Error(), "sampled from policy 1, but policy 2 is served") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(BatchDir(dir, 1)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a batch was written for the wrong version")
	}
}

func TestNewDirErrors(t *testing.T) {
	if _, err := NewDir("", Options{}); err == nil {
		t.Error("NewDir(\"\") succeeded")
	}
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	if _, err := NewDir(filepath.Join(file, "x"), Options{}); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("NewDir under a file: %v", err)
	}
}
