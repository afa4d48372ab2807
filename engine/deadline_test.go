package engine_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/swerl/swerl/actors/actorstest"
	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/messages"
)

// An agent that never submits runs into the episode's wall clock: the in-flight turn
// (bounded by the same deadline) ends, the current diff is graded, the stop reason is
// timeout, and no episode holds its slot past its deadline plus the grace.
func TestEpisodeDeadlineEndsTheEpisode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newFaultWorld(t, 11)
		w.sb.PerSandbox, w.pol.PerCall, w.grader.PerCall, w.cfg.EpisodeMiddleware = nil, nil, nil, nil
		w.sb.Knobs = actorstest.SandboxKnobs{Latency: 2 * time.Second}
		w.pol.Knobs = actorstest.PolicyKnobs{Latency: 3 * time.Second}
		w.pol.Script.NeverSubmit, w.pol.Script.FormatErrorRate = true, 0
		w.cfg.Iterations, w.cfg.TasksPerIteration = 1, 4
		e := &w.cfg.Episode
		e.TurnCap, e.EpisodeTimeout, e.TurnTimeout, e.CommandTimeout, e.Grace = 1000, 61*time.Second, 30*time.Second, 10*time.Second, 5*time.Second
		begin := time.Now()
		res, err := engine.Run(context.Background(), w.cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Iterations[0].Records {
			if r.Status != messages.Finished || r.Stop != messages.StopTimeout {
				t.Errorf("%v: %s / %s (%s), want finished by timeout", r.Ref, r.Status, r.Stop, r.Failure.Cause)
			}
			// 5 s per turn: the deadline at 61 s lands in the 13th turn's generation.
			if r.Turns() != 12 {
				t.Errorf("%v: %d turns before the deadline, want 12", r.Ref, r.Turns())
			}
		}
		// Every sandbox was released by the deadline plus the grace (grading happens after).
		if w.sb.Live() != 0 {
			t.Errorf("%d sandboxes left", w.sb.Live())
		}
		grading := 3 * time.Second // the fake grader's latency
		if took := time.Since(begin); took > e.EpisodeTimeout+e.Grace+grading+time.Second {
			t.Errorf("run took %s: episodes outlived their %s deadline", took, e.EpisodeTimeout)
		}
	})
}
