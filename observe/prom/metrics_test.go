package prom

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/observe"
)

// clock is a settable time for newMetrics.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func ref(it, g, s int) messages.EpisodeRef {
	return messages.EpisodeRef{Iteration: it, PolicyVersion: it, Group: g, Sample: s, TaskID: fmt.Sprintf("task-%d", g)}
}

func want(t *testing.T, name string, c prometheus.Collector, v float64) {
	t.Helper()
	if got := testutil.ToFloat64(c); got != v {
		t.Errorf("%s = %v, want %v", name, got, v)
	}
}

// histogram returns the sample count and sum of the one series of histogram family
// name in g.
func histogram(t *testing.T, g prometheus.Gatherer, name string) (uint64, float64) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		if len(mf.GetMetric()) != 1 {
			t.Fatalf("%s has %d series, want 1", name, len(mf.GetMetric()))
		}
		h := mf.GetMetric()[0].GetHistogram()
		return h.GetSampleCount(), h.GetSampleSum()
	}
	t.Fatalf("%s not gathered", name)
	return 0, 0
}

// wantHistogram checks the sample count and sum of histogram family name.
func wantHistogram(t *testing.T, g prometheus.Gatherer, name string, count uint64, sum float64) {
	t.Helper()
	if n, s := histogram(t, g, name); n != count || s != sum {
		t.Errorf("%s: count %d, sum %v; want %d, %v", name, n, s, count, sum)
	}
}

func TestEventsAreCounted(t *testing.T) {
	m := New()
	m.Observe(actors.Event{Kind: actors.EventIterationStarted, Ref: messages.EpisodeRef{Iteration: 0, PolicyVersion: 7}, Episodes: 4})
	m.Observe(actors.Event{Kind: actors.EventTurn, Ref: ref(0, 0, 0), Turn: 1, Tokens: 30, Generate: 20 * time.Millisecond, Exec: 5 * time.Millisecond})
	m.Observe(actors.Event{Kind: actors.EventTurn, Ref: ref(0, 0, 0), Turn: 2, Tokens: 12, Generate: 3 * time.Second, FormatError: true})
	m.Observe(actors.Event{Kind: actors.EventRetry, Ref: ref(0, 0, 0), Failure: messages.FailSandboxDied})
	m.Observe(actors.Event{Kind: actors.EventRetry, Ref: ref(0, 1, 0), Failure: messages.FailSandboxDied})
	m.Observe(actors.Event{Kind: actors.EventRetry, Ref: ref(0, 1, 0), Failure: messages.FailGenerate})
	m.Observe(actors.Event{Kind: actors.EventStale, Ref: ref(0, 1, 0)})
	m.Observe(actors.Event{Kind: actors.EventSandboxStarted, Ref: ref(0, 0, 0), Elapsed: 2 * time.Second})
	m.Observe(actors.Event{Kind: actors.EventSandboxStarted, Ref: ref(0, 1, 0), Elapsed: time.Second})
	m.Observe(actors.Event{Kind: actors.EventSandboxFailed, Ref: ref(0, 2, 0), Failure: messages.FailSandboxStart})
	m.Observe(actors.Event{Kind: actors.EventSandboxClosed, Ref: ref(0, 0, 0)})

	want(t, "iterations started", m.iterationsStarted, 1)
	want(t, "policy version", m.version, 7)
	want(t, "turns", m.turns, 2)
	want(t, "tokens", m.tokens, 42)
	want(t, "format errors", m.formatErrors, 1)
	wantHistogram(t, m.reg, "swerl_generate_duration_seconds", 2, 3.02)
	wantHistogram(t, m.reg, "swerl_exec_duration_seconds", 1, 0.005) // the turn without a command adds none
	want(t, "retries sandbox_died", m.retries.WithLabelValues("sandbox_died"), 2)
	want(t, "retries generate", m.retries.WithLabelValues("generate"), 1)
	want(t, "stale", m.stale, 1)
	want(t, "sandbox starts", m.sandboxStarts, 2)
	want(t, "sandbox failures", m.sandboxFailures.WithLabelValues("sandbox_start"), 1)
	want(t, "sandboxes in use", m.sandboxesInUse, 1)
	wantHistogram(t, m.reg, "swerl_sandbox_start_duration_seconds", 2, 3)
}

func TestPhasesAreGauges(t *testing.T) {
	m := New()
	phase := func(r messages.EpisodeRef, p actors.Phase) {
		m.Observe(actors.Event{Kind: actors.EventPhase, Ref: r, Phase: p})
	}
	phase(ref(0, 0, 0), actors.PhaseStarting)
	phase(ref(0, 0, 1), actors.PhaseStarting)
	phase(ref(0, 1, 0), actors.PhaseStarting)
	phase(ref(0, 0, 0), actors.PhaseGenerating)
	phase(ref(0, 0, 1), actors.PhaseGenerating)
	phase(ref(0, 0, 1), actors.PhaseExecuting)
	want(t, "running", m.running, 3)
	want(t, "starting", m.inPhase.WithLabelValues("starting"), 1)
	want(t, "generating", m.inPhase.WithLabelValues("generating"), 1)
	want(t, "executing", m.inPhase.WithLabelValues("executing"), 1)

	phase(ref(0, 0, 1), actors.PhaseDone)
	phase(ref(0, 0, 1), actors.PhaseDone) // twice: no effect
	phase(ref(0, 1, 0), actors.PhaseBackoff)
	want(t, "running after one is done", m.running, 2)
	want(t, "executing after done", m.inPhase.WithLabelValues("executing"), 0)
	want(t, "backoff", m.inPhase.WithLabelValues("backoff"), 1)
	if n := testutil.CollectAndCount(m.inPhase); n != 6 {
		t.Errorf("%d phase series, want 6 (every phase but done, from the start)", n)
	}

	// A cancelled run leaves episodes without PhaseDone: its end forgets them.
	m.RunEnded("stage1", nil)
	want(t, "running after the run", m.running, 0)
	for _, p := range []string{"starting", "generating", "executing", "backoff"} {
		want(t, p+" after the run", m.inPhase.WithLabelValues(p), 0)
	}
}

func TestRecordsAndBarriers(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := newMetrics(c.now)
	m.RunStarted(observe.Run{Stage: "stage1", Iterations: 2, EpisodesPerIteration: 10, StartVersion: 3})
	want(t, "version at start", m.version, 3)
	// Iteration 0: 10 records a second apart; the 9th (90%) at 8 s, the last at 29 s.
	var recs []messages.EpisodeRecord
	for i := range 10 {
		r := messages.EpisodeRecord{Ref: ref(0, i/2, i%2), Status: messages.Finished, Stop: messages.StopSubmit, Resolved: i%3 == 0}
		if i == 9 {
			c.advance(20 * time.Second)
			r = messages.Abandon(r.Ref, messages.TaskRef{}, messages.Failure{Kind: messages.FailSandboxDied})
		}
		m.Record("stage1", r)
		recs = append(recs, r)
		c.advance(time.Second)
	}
	want(t, "finished/submit", m.episodes.WithLabelValues("stage1", "finished", "submit"), 9)
	want(t, "abandoned", m.episodes.WithLabelValues("stage1", "abandoned", "abandoned"), 1)
	want(t, "resolved", m.resolved.WithLabelValues("stage1"), 3) // i = 0, 3, 6

	train := messages.TrainStats{Loss: 0.25, Steps: 2, Tokens: 100, ClipFracLow: 0.01, ClipFracHigh: 0.02, Entropy: 1.5, GradNorm: 0.7}
	m.Iteration("stage1", actors.IterationReport{Iteration: 0, PolicyVersion: 3, Requested: 10, Records: recs,
		GroupsKept: 3, GroupsDroppedAbandoned: 1, GroupsDroppedZeroAdvantage: 1,
		Rollout: 30 * time.Second, Training: 4 * time.Second, Train: train})
	if n := testutil.CollectAndCount(m.barrierWait); n != 1 {
		t.Fatalf("%d barrier wait series, want 1", n)
	}
	wantHistogram(t, m.reg, "swerl_barrier_wait_seconds", 1, 21) // from 8 s to 29 s
	wantHistogram(t, m.reg, "swerl_iteration_rollout_duration_seconds", 1, 30)
	wantHistogram(t, m.reg, "swerl_learner_step_duration_seconds", 1, 4)
	want(t, "iterations", m.iterations.WithLabelValues("stage1"), 1)
	want(t, "groups kept", m.groups.WithLabelValues("stage1", "kept"), 3)
	want(t, "groups dropped abandoned", m.groups.WithLabelValues("stage1", "dropped_abandoned"), 1)
	want(t, "groups dropped zero advantage", m.groups.WithLabelValues("stage1", "dropped_zero_advantage"), 1)
	want(t, "loss", m.loss, 0.25)
	want(t, "clip low", m.clip.WithLabelValues("low"), 0.01)
	want(t, "clip high", m.clip.WithLabelValues("high"), 0.02)
	want(t, "entropy", m.entropy, 1.5)
	want(t, "grad norm", m.gradNorm, 0.7)
	want(t, "version after the barrier", m.version, 4)

	// An evaluation's frozen policy runs no learner step: the learner's gauges keep the
	// last real step. Too few records for the 90% mark: no barrier wait.
	m.RunStarted(observe.Run{Stage: "eval", Iterations: 1, EpisodesPerIteration: 10, StartVersion: 4})
	m.Record("eval", messages.EpisodeRecord{Ref: ref(0, 0, 0), Status: messages.Finished, Stop: messages.StopTurnCap})
	m.Iteration("eval", actors.IterationReport{Iteration: 0, PolicyVersion: 4, Requested: 10, Train: messages.TrainStats{Trajectories: 1}})
	want(t, "loss after an evaluation", m.loss, 0.25)
	wantHistogram(t, m.reg, "swerl_barrier_wait_seconds", 1, 21)
	want(t, "eval turn cap", m.episodes.WithLabelValues("eval", "finished", "turn_cap"), 1)

	// A cancelled iteration is not a barrier.
	m.Iteration("eval", actors.IterationReport{Iteration: 1, Requested: 10, Cancelled: true, Rollout: time.Second})
	want(t, "eval iterations", m.iterations.WithLabelValues("eval"), 1)

	m.Eval(observe.Eval{Stage: "stage1", Step: 2, Version: 5, Pass1: 0.4, PassG: 0.75, Tasks: 8, Samples: 4})
	want(t, "pass@1", m.pass1.WithLabelValues("stage1"), 0.4)
	want(t, "pass@G", m.passG.WithLabelValues("stage1"), 0.75)
	want(t, "version after eval", m.version, 5)
}

func TestBarrierWait(t *testing.T) {
	at := func(s ...int) []time.Time {
		var out []time.Time
		for _, x := range s {
			out = append(out, time.Unix(int64(x), 0))
		}
		return out
	}
	for _, tc := range []struct {
		arrived   []time.Time
		requested int
		want      time.Duration
		ok        bool
	}{
		{at(1, 2, 3, 4, 5, 6, 7, 8, 9, 100), 10, 91 * time.Second, true},
		{at(1, 2, 3, 4, 5, 6, 7, 8, 9), 10, 0, true}, // the 90% mark is the last
		{at(1, 2, 3, 4, 5, 6, 7, 8), 10, 0, false},   // never reached 90%
		{at(5), 1, 0, true},                      // one episode: no wait
		{at(1, 2, 10, 11), 4, 0, true},           // ceil(3.6) = 4: the last is the mark
		{at(1, 2, 10, 11, 30, 31), 20, 0, false}, // ceil(18)
		{at(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 60, 90), 20, 72 * time.Second, true}, // the 18th at 18 s
		{nil, 0, 0, false},
	} {
		got, ok := barrierWait(tc.arrived, tc.requested)
		if ok != tc.ok || got != tc.want {
			t.Errorf("barrierWait(%d arrivals, %d requested) = %v, %v; want %v, %v", len(tc.arrived), tc.requested, got, ok, tc.want, tc.ok)
		}
	}
}

// feed tells m about n episodes of one iteration, every kind of report, each episode
// with its own ref and task id.
func feed(m *Metrics, stage string, it, n int) {
	m.RunStarted(observe.Run{Stage: stage, Iterations: 1, EpisodesPerIteration: n})
	m.Observe(actors.Event{Kind: actors.EventIterationStarted, Ref: messages.EpisodeRef{Iteration: it}, Episodes: n})
	for i := range n {
		r := messages.EpisodeRef{Iteration: it, Group: i, Sample: i % 4, TaskID: fmt.Sprintf("task-%d-%d", it, i)}
		for _, p := range []actors.Phase{actors.PhaseStarting, actors.PhaseGenerating, actors.PhaseExecuting,
			actors.PhaseBackoff, actors.PhaseDiffing, actors.PhaseGrading} {
			m.Observe(actors.Event{Kind: actors.EventPhase, Ref: r, Phase: p})
		}
		m.Observe(actors.Event{Kind: actors.EventSandboxStarted, Ref: r, Elapsed: time.Second})
		m.Observe(actors.Event{Kind: actors.EventTurn, Ref: r, Turn: 1, Tokens: 10, Generate: time.Millisecond, Exec: time.Millisecond, FormatError: i%2 == 0})
		m.Observe(actors.Event{Kind: actors.EventRetry, Ref: r, Failure: messages.FailSandboxDied})
		m.Observe(actors.Event{Kind: actors.EventSandboxFailed, Ref: r, Failure: messages.FailSandboxStart})
		m.Observe(actors.Event{Kind: actors.EventStale, Ref: r})
		m.Observe(actors.Event{Kind: actors.EventSandboxClosed, Ref: r})
		m.Observe(actors.Event{Kind: actors.EventPhase, Ref: r, Phase: actors.PhaseDone})
		stop := []messages.StopReason{messages.StopSubmit, messages.StopTurnCap, messages.StopTimeout}[i%3]
		m.Record(stage, messages.EpisodeRecord{Ref: r, Task: messages.TaskRef{ID: r.TaskID}, Status: messages.Finished, Stop: stop, Resolved: i%2 == 1})
	}
	m.Iteration(stage, actors.IterationReport{Iteration: it, PolicyVersion: it, Requested: n, GroupsKept: n / 4,
		Rollout: time.Second, Training: time.Second, Train: messages.TrainStats{Loss: 1, Steps: 1}})
	m.RunEnded(stage, nil)
	m.Eval(observe.Eval{Stage: stage, Step: it, Pass1: 0.5, PassG: 0.5})
}

func TestMetricsPassPromlint(t *testing.T) {
	m := New()
	feed(m, "stage1", 0, 8)
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	// Every swerl metric is in the registry and has its help.
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "swerl_") {
			n++
			if mf.GetHelp() == "" {
				t.Errorf("%s has no help", mf.GetName())
			}
		}
	}
	if n != 28 {
		t.Errorf("%d swerl_ metric families gathered, want 28", n)
	}
}

// TestLabelsStayBounded: a thousand distinct episodes (ids, task ids, iterations) make
// no more series than ten do.
func TestLabelsStayBounded(t *testing.T) {
	series := func(m *Metrics) int {
		mfs, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "swerl_") {
				n += len(mf.GetMetric())
			}
		}
		return n
	}
	small, large := New(), New()
	feed(small, "stage1", 0, 10)
	for it := range 10 {
		feed(large, "stage1", it, 100)
	}
	if a, b := series(small), series(large); a != b {
		t.Errorf("10 episodes make %d series, 1,000 make %d: a label follows the episodes", a, b)
	}
	large.mu.Lock()
	defer large.mu.Unlock()
	if len(large.phases) != 0 || len(large.arrivals) != 0 {
		t.Errorf("after the runs, %d episodes and %d iterations are still remembered", len(large.phases), len(large.arrivals))
	}
	want(t, "episodes", large.episodes.WithLabelValues("stage1", "finished", "submit"), 340) // i%3 == 0 of 0..99: 34 per iteration
}

// TestConcurrentReports: reports from many goroutines at once (run with -race) add up.
func TestConcurrentReports(t *testing.T) {
	m := New()
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				r := ref(0, w, i)
				m.Observe(actors.Event{Kind: actors.EventPhase, Ref: r, Phase: actors.PhaseGenerating})
				m.Observe(actors.Event{Kind: actors.EventTurn, Ref: r, Tokens: 1, Generate: time.Millisecond})
				m.Record("stage1", messages.EpisodeRecord{Ref: r, Status: messages.Finished, Stop: messages.StopSubmit})
				m.Observe(actors.Event{Kind: actors.EventPhase, Ref: r, Phase: actors.PhaseDone})
			}
		})
	}
	wg.Wait()
	want(t, "turns", m.turns, workers*each)
	want(t, "episodes", m.episodes.WithLabelValues("stage1", "finished", "submit"), workers*each)
	want(t, "running", m.running, 0)
	want(t, "generating", m.inPhase.WithLabelValues("generating"), 0)
}

func TestHandlerServesTheExpositionFormat(t *testing.T) {
	m := New()
	feed(m, "stage2", 0, 4)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %s: %s", resp.Status, body)
	}
	var p expfmt.TextParser
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the scrape does not parse: %v", err)
	}
	for _, name := range []string{"swerl_turns_total", "swerl_generate_duration_seconds", "go_goroutines", "process_cpu_seconds_total"} {
		if mfs[name] == nil {
			t.Errorf("%s missing from the scrape", name)
		}
	}
	if got := mfs["swerl_turns_total"].GetMetric()[0].GetCounter().GetValue(); got != 4 {
		t.Errorf("scraped swerl_turns_total = %v, want 4", got)
	}
}
