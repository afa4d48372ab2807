package engine_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/actors/actorstest"
	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/observe"
)

// TestWatcherSeesTheRun: a watcher hears of every iteration, every episode's phases in
// their order, every turn, every sandbox opened and closed, every retry, and every
// record and barrier, and the run's start and end.
func TestWatcherSeesTheRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The 2nd command of every first sandbox crashes it: a retry with a fresh one.
		sb := actorstest.CrashFirstSandboxes(10*time.Millisecond, 2)
		pol := &actorstest.FakePolicy{Knobs: actorstest.PolicyKnobs{Latency: 20 * time.Millisecond}}
		cfg := engine.DefaultConfig()
		cfg.Iterations, cfg.TasksPerIteration, cfg.GroupSize = 2, 3, 2
		cfg.Tasks = tasks(6)
		cfg.Policy, cfg.Trainer, cfg.Sandboxes, cfg.Grader = pol, actorstest.NewFakeTrainer(0), sb, &actorstest.FakeGrader{}
		cfg.Episode.TurnCap = 4
		rec := &observe.Recorder{}
		cfg.Watcher, cfg.Stage = rec, "test_stage"
		res, err := engine.Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := rec.Snapshot()
		if len(got.Runs) != 1 || got.Runs[0].Stage != "test_stage" || got.Runs[0].EpisodesPerIteration != 6 || got.Runs[0].Iterations != 2 {
			t.Fatalf("runs = %+v", got.Runs)
		}
		if len(got.Ended) != 1 || got.Ended[0] != nil {
			t.Fatalf("ended = %v", got.Ended)
		}
		if len(got.Iterations) != 2 || len(got.Records) != 12 {
			t.Fatalf("%d iterations, %d records; want 2 and 12", len(got.Iterations), len(got.Records))
		}
		var started, turns, sbOpen, sbClose, retries int
		phases := map[messages.EpisodeKey][]actors.Phase{}
		for _, e := range got.Events {
			switch e.Kind {
			case actors.EventIterationStarted:
				started++
				if e.Episodes != 6 {
					t.Errorf("iteration %d started with %d episodes", e.Ref.Iteration, e.Episodes)
				}
			case actors.EventPhase:
				phases[e.Ref.Key()] = append(phases[e.Ref.Key()], e.Phase)
			case actors.EventTurn:
				turns++
				if e.Generate <= 0 {
					t.Errorf("turn %d of %v: generate time %v", e.Turn, e.Ref, e.Generate)
				}
			case actors.EventSandboxStarted:
				sbOpen++
			case actors.EventSandboxClosed:
				sbClose++
			case actors.EventRetry:
				retries++
				if e.Failure != messages.FailSandboxDied {
					t.Errorf("retry of kind %s", e.Failure)
				}
			}
		}
		wantTurns, wantRetries := 0, 0
		for _, r := range res.Records() {
			wantRetries += r.Retries
			ph := phases[r.Ref.Key()]
			if len(ph) < 5 || ph[0] != actors.PhaseStarting || ph[len(ph)-1] != actors.PhaseDone ||
				ph[len(ph)-2] != actors.PhaseGrading || ph[len(ph)-3] != actors.PhaseDiffing {
				t.Errorf("%v: phases %v", r.Ref, ph)
			}
		}
		// Every turn of every attempt is reported, the kept ones and the crashed ones.
		for _, r := range res.Records() {
			wantTurns += r.Turns()
		}
		if started != 2 {
			t.Errorf("%d iteration starts, want 2", started)
		}
		if turns < wantTurns {
			t.Errorf("%d turn events, fewer than the %d turns recorded", turns, wantTurns)
		}
		if wantRetries == 0 || retries != wantRetries {
			t.Errorf("%d retry events, records count %d", retries, wantRetries)
		}
		if sbOpen == 0 || sbOpen != sbClose || int64(sbOpen) != sb.Started() {
			t.Errorf("sandboxes: %d started, %d closed events; the factory started %d", sbOpen, sbClose, sb.Started())
		}
	})
}
