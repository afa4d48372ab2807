package prom_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swerl/swerl/actors/actorstest"
	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/observe/prom"
)

// TestMetricsMatchAnEngineRun drives a real engine.Run with the fakes (the first
// sandbox of every episode crashes at its 2nd command, so episodes retry) and checks
// that the metrics agree with the run's records.
func TestMetricsMatchAnEngineRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sb := actorstest.CrashFirstSandboxes(10*time.Millisecond, 2)
		pol := &actorstest.FakePolicy{Knobs: actorstest.PolicyKnobs{Latency: 20 * time.Millisecond}}
		cfg := engine.DefaultConfig()
		cfg.Iterations, cfg.TasksPerIteration, cfg.GroupSize = 2, 3, 2
		for i := range 6 {
			cfg.Tasks = append(cfg.Tasks, messages.TaskRef{ID: fmt.Sprintf("task-%03d", i), Statement: "fix the bug"})
		}
		cfg.Policy, cfg.Trainer, cfg.Sandboxes, cfg.Grader = pol, actorstest.NewFakeTrainer(0), sb, &actorstest.FakeGrader{}
		cfg.Episode.TurnCap = 4
		m := prom.New()
		cfg.Watcher, cfg.Stage = m, "stage1"
		res, err := engine.Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := gather(t, m.Registry())

		var turns, retries, resolved float64
		byOutcome := map[string]float64{}
		for _, r := range res.Records() {
			turns += float64(r.Turns())
			retries += float64(r.Retries)
			if r.Resolved {
				resolved++
			}
			byOutcome[string(r.Status)+"/"+string(r.Stop)]++
		}
		if len(res.Records()) != 12 {
			t.Fatalf("%d records, want 12", len(res.Records()))
		}
		var episodes float64
		for labels, v := range got["swerl_episodes_total"] {
			episodes += v
			if byOutcome[labels.status+"/"+labels.stop] != v || labels.stage != "stage1" {
				t.Errorf("swerl_episodes_total%+v = %v; the records say %v", labels, v, byOutcome[labels.status+"/"+labels.stop])
			}
		}
		if episodes != 12 {
			t.Errorf("swerl_episodes_total adds up to %v, want the 12 records", episodes)
		}
		check := func(name string, l series, want float64) {
			t.Helper()
			if v := got[name][l]; v != want {
				t.Errorf("%s%+v = %v, want %v", name, l, v, want)
			}
		}
		check("swerl_episodes_resolved_total", series{stage: "stage1"}, resolved)
		// Every turn of every attempt counts, the crashed attempts' too.
		if v := got["swerl_turns_total"][series{}]; v < turns || turns == 0 {
			t.Errorf("swerl_turns_total = %v, fewer than the %v turns recorded", v, turns)
		}
		check("swerl_generate_duration_seconds_count", series{}, got["swerl_turns_total"][series{}])
		if got["swerl_assistant_tokens_total"][series{}] <= 0 {
			t.Error("no assistant tokens counted")
		}
		if retries == 0 {
			t.Fatal("the run had no retries: the test's faults did not fire")
		}
		check("swerl_retries_total", series{kind: "sandbox_died"}, retries)
		check("swerl_sandbox_starts_total", series{}, float64(sb.Started()))
		check("swerl_sandbox_start_duration_seconds_count", series{}, float64(sb.Started()))
		check("swerl_sandboxes_in_use", series{}, 0)
		check("swerl_episodes_running", series{}, 0)
		check("swerl_iterations_started_total", series{}, 2)
		check("swerl_iterations_total", series{stage: "stage1"}, 2)
		check("swerl_barrier_wait_seconds_count", series{stage: "stage1"}, 2)
		check("swerl_iteration_rollout_duration_seconds_count", series{stage: "stage1"}, 2)
		check("swerl_learner_step_duration_seconds_count", series{stage: "stage1"}, 2)
		check("swerl_loss", series{}, 0.1) // the fake trainer's
		check("swerl_policy_version", series{}, float64(cfg.StartVersion+2))
		for _, p := range []string{"starting", "generating", "executing", "diffing", "grading", "backoff"} {
			check("swerl_episodes_in_phase", series{phase: p}, 0)
		}
	})
}

// series is the labels of one series, as far as swerl's metrics use them.
type series struct{ stage, status, stop, kind, phase string }

// gather returns every swerl series' value by family and labels; a histogram's
// sample count is family name + "_count".
func gather(t *testing.T, g prometheus.Gatherer) map[string]map[series]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[series]float64{}
	put := func(name string, l series, v float64) {
		if out[name] == nil {
			out[name] = map[series]float64{}
		}
		out[name][l] = v
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var l series
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "stage":
					l.stage = lp.GetValue()
				case "status":
					l.status = lp.GetValue()
				case "stop_reason":
					l.stop = lp.GetValue()
				case "kind":
					l.kind = lp.GetValue()
				case "phase":
					l.phase = lp.GetValue()
				}
			}
			switch {
			case m.GetCounter() != nil:
				put(mf.GetName(), l, m.GetCounter().GetValue())
			case m.GetGauge() != nil:
				put(mf.GetName(), l, m.GetGauge().GetValue())
			case m.GetHistogram() != nil:
				put(mf.GetName()+"_count", l, float64(m.GetHistogram().GetSampleCount()))
			}
		}
	}
	return out
}
