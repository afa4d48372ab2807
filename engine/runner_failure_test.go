package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/actors/actorstest"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy/scripted"
	"github.com/swerl/swerl/swe"
	"github.com/swerl/swerl/swe/builtin"
)

// A task whose test runner cannot start, in real local sandboxes through the whole
// engine: every grade is a *swe.RunnerError, so each episode is retried, then
// abandoned as a grade failure whose cause holds the log's tail and the kept log's
// path, and none is recorded as finished (reward 0, "not resolved").
func TestRunnerErrorAbandonsEpisodes(t *testing.T) {
	all, err := builtin.Tasks()
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := builtin.Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	var task swe.Task
	for _, tk := range all {
		if strings.Contains(string(tk.Meta), `"python"`) {
			task = tk
			break
		}
	}
	ic := *task.InstallConfig
	ic.TestCmd = "no-such-runner -rA"
	task.InstallConfig = &ic
	wc := WorldConfig{Tasks: []swe.Task{task}, Snapshots: snaps, CheckoutDir: t.TempDir(), TestTimeout: time.Minute}
	wc.Local.Dir = t.TempDir()
	w, err := OpenWorld(context.Background(), wc)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	w.Grader.KeepLogs = t.TempDir()

	const budget = 1
	ep := actors.DefaultEpisodeConfig()
	ep.RetryBudget = budget
	ep.Backoff = actors.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, Jitter: 0.2}
	res, err := Rollout(context.Background(), RolloutOptions{World: w, Policy: scripted.NewGold([]swe.Task{task}),
		GroupSize: 2, Out: t.TempDir(), Episode: ep, Logger: actorstest.TestLogger(t, hclog.Error)})
	var none *ErrNothingFinished
	if !errors.As(err, &none) || none.Kind != messages.FailGrade || !strings.Contains(none.Example, "no-such-runner") {
		t.Fatalf("rollout error = %v, want every episode abandoned for the grader, with the log's tail", err)
	}
	recs := res.Result.Records()
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	for _, r := range recs {
		f := r.Failure
		if r.Status != messages.Abandoned || r.Resolved || r.Final != 0 || f.Kind != messages.FailGrade || r.Retries != budget+1 {
			t.Errorf("%s: status %s, resolved %v, final %v, retries %d, failure %+v", r.Ref, r.Status, r.Resolved, r.Final, r.Retries, f)
			continue
		}
		for _, want := range []string{"exit 127: command not found", "no-such-runner", "retry budget of 1 spent", w.Grader.KeepLogs, "fix: "} {
			if !strings.Contains(f.Cause, want) {
				t.Errorf("%s: the cause lacks %q:\n%s", r.Ref, want, f.Cause)
			}
		}
	}
	if s := res.Summary; s.Finished != 0 || s.Abandoned != 2 || s.AbandonedBy[messages.FailGrade] != 2 {
		t.Errorf("summary counts the abandoned episodes as attempts: %+v", s)
	}
	logs, _ := filepath.Glob(filepath.Join(w.Grader.KeepLogs, "*.control.log"))
	if len(logs) != 2*(budget+1) {
		t.Errorf("%d control logs kept, want one per grade (%d): %v", len(logs), 2*(budget+1), logs)
	}
	for _, l := range logs {
		if b, err := os.ReadFile(l); err != nil || !strings.Contains(string(b), "no-such-runner") {
			t.Errorf("%s: %v %q", l, err, b)
		}
	}
}
