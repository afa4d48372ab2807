package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/swerl/swerl/actors/actorstest"
	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/messages"
)

// Cancelling the run (what SIGINT/SIGTERM do in swerl) mid-iteration keeps every
// finished record, records every other requested episode as abandoned (cancelled),
// and returns only when every sandbox and goroutine is gone.
func TestRunCancelledMidIteration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		before := goleak.IgnoreCurrent()
		w := newFaultWorld(t, 7)
		// Slow sandboxes: some episodes finish before the cancel, most do not.
		w.sb.PerSandbox = nil
		w.sb.Knobs = actorstest.SandboxKnobs{StartLatency: time.Second, Latency: 10 * time.Second}
		w.pol.PerCall, w.grader.PerCall, w.cfg.EpisodeMiddleware = nil, nil, nil
		w.cfg.Iterations = 2
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(65*time.Second, cancel)
		res, err := engine.Run(ctx, w.cfg)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v, want context.Canceled", err)
		}
		if len(res.Iterations) != 1 || !res.Iterations[0].Cancelled {
			t.Fatalf("want one cancelled iteration report, got %d", len(res.Iterations))
		}
		it := res.Iterations[0]
		if len(it.Records) != it.Requested {
			t.Fatalf("%d records for %d requested episodes", len(it.Records), it.Requested)
		}
		finished, cancelled := 0, 0
		for i, r := range it.Records {
			switch {
			case r.Status == messages.Finished:
				finished++
			case r.Status == messages.Abandoned && r.Failure.Kind == messages.FailCancelled:
				cancelled++
			default:
				t.Errorf("record %d: status %q failure %q", i, r.Status, r.Failure.Kind)
			}
		}
		if finished == 0 || cancelled == 0 {
			t.Errorf("finished %d, cancelled %d: the cancel should land mid-iteration", finished, cancelled)
		}
		if w.trainer.Version() != 0 {
			t.Errorf("the learner trained on a cancelled iteration (version %d)", w.trainer.Version())
		}
		if w.sb.Live() != 0 || w.sb.Started() != w.sb.Closed() {
			t.Errorf("sandboxes left: started %d closed %d", w.sb.Started(), w.sb.Closed())
		}
		if err := goleak.Find(before); err != nil {
			t.Errorf("goroutines left after Run returned: %v", err)
		}
	})
}

func TestRunLearnerErrorsStopTheRun(t *testing.T) {
	for _, tc := range []struct {
		name   string
		set    func(*actorstest.FakeTrainer)
		expect string
	}{
		{"train error", func(tr *actorstest.FakeTrainer) { tr.ErrAt = map[int]error{0: errors.New("loss is NaN")} }, "loss is NaN"},
		{"panics past the restart budget", func(tr *actorstest.FakeTrainer) { tr.PanicAt = map[int]int{0: 100} }, "learner"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newFaultWorld(t, 3)
				w.cfg.EpisodeMiddleware = nil
				w.cfg.TasksPerIteration = 4
				w.trainer = actorstest.NewFakeTrainer(0)
				tc.set(w.trainer)
				w.cfg.Trainer = w.trainer
				_, err := engine.Run(context.Background(), w.cfg)
				if err == nil || !strings.Contains(err.Error(), tc.expect) {
					t.Fatalf("Run returned %v, want an error naming %q", err, tc.expect)
				}
				if w.sb.Live() != 0 {
					t.Errorf("%d sandboxes left", w.sb.Live())
				}
			})
		})
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := engine.DefaultConfig()
	cfg.GroupSize = 1
	cfg.Tasks = []messages.TaskRef{{ID: "a"}, {ID: "a"}}
	cfg.Episode.CommandTimeout = 2 * cfg.Episode.TurnTimeout
	_, err := engine.Run(context.Background(), cfg)
	if err == nil {
		t.Fatal("Run accepted an invalid config")
	}
	for _, want := range []string{"group size = 1", `task id "a" appears twice`, "no policy", "no trainer", "no sandbox factory", "no grader", "deadlines must nest"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}
