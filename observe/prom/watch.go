package prom

import (
	"math"
	"time"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/observe"
)

var _ observe.Watcher = (*Metrics)(nil)

// Observe counts an actor's event.
func (m *Metrics) Observe(e actors.Event) {
	switch e.Kind {
	case actors.EventIterationStarted:
		m.iterationsStarted.Inc()
		m.version.Set(float64(e.Ref.PolicyVersion))
	case actors.EventPhase:
		m.phase(e.Ref.Key(), e.Phase)
	case actors.EventTurn:
		m.turns.Inc()
		m.tokens.Add(float64(max(e.Tokens, 0)))
		if e.FormatError {
			m.formatErrors.Inc()
		}
		m.generate.Observe(e.Generate.Seconds())
		if e.Exec > 0 {
			m.exec.Observe(e.Exec.Seconds())
		}
	case actors.EventRetry:
		m.retries.WithLabelValues(string(e.Failure)).Inc()
	case actors.EventStale:
		m.stale.Inc()
	case actors.EventSandboxStarted:
		m.sandboxStarts.Inc()
		m.sandboxesInUse.Inc()
		m.sandboxStart.Observe(e.Elapsed.Seconds())
	case actors.EventSandboxFailed:
		m.sandboxFailures.WithLabelValues(string(e.Failure)).Inc()
	case actors.EventSandboxClosed:
		m.sandboxesInUse.Dec()
	}
}

// phase moves episode k to phase p: out of the gauge of its previous phase and into
// p's; PhaseDone takes it out of the running episodes.
func (m *Metrics) phase(k messages.EpisodeKey, p actors.Phase) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev, running := m.phases[k]
	if running {
		m.inPhase.WithLabelValues(string(prev)).Dec()
	}
	if p == actors.PhaseDone {
		if running {
			delete(m.phases, k)
			m.running.Dec()
		}
		return
	}
	if !running {
		m.running.Inc()
	}
	m.phases[k] = p
	m.inPhase.WithLabelValues(string(p)).Inc()
}

// forget drops the state of the last run: its running episodes (a cancelled run may
// leave some without PhaseDone) and its barrier clocks. Called with m.mu held.
func (m *Metrics) forget() {
	for _, p := range m.phases {
		m.inPhase.WithLabelValues(string(p)).Dec()
	}
	m.running.Sub(float64(len(m.phases)))
	clear(m.phases)
	clear(m.arrivals)
}

// RunStarted begins a run: the state of the last one is dropped and the policy
// version is its start version.
func (m *Metrics) RunStarted(r observe.Run) {
	m.mu.Lock()
	m.forget()
	m.mu.Unlock()
	m.version.Set(float64(r.StartVersion))
}

// RunEnded ends the run: episodes it left running are no longer counted as running.
func (m *Metrics) RunEnded(string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forget()
}

// Record counts an episode's terminal record and notes when it reached the barrier.
func (m *Metrics) Record(stage string, r messages.EpisodeRecord) {
	m.episodes.WithLabelValues(stage, string(r.Status), string(r.Stop)).Inc()
	res := m.resolved.WithLabelValues(stage)
	if r.Resolved {
		res.Inc()
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.arrivals[r.Ref.Iteration] = append(m.arrivals[r.Ref.Iteration], now)
}

// Iteration counts a barrier: its durations, its groups, the learner's statistics and
// the policy version loaded after it.
func (m *Metrics) Iteration(stage string, r actors.IterationReport) {
	m.mu.Lock()
	arrived := m.arrivals[r.Iteration]
	delete(m.arrivals, r.Iteration)
	m.mu.Unlock()
	if r.Cancelled {
		return
	}
	if w, ok := barrierWait(arrived, r.Requested); ok {
		m.barrierWait.WithLabelValues(stage).Observe(w.Seconds())
	}
	m.rollout.WithLabelValues(stage).Observe(r.Rollout.Seconds())
	m.learnerStep.WithLabelValues(stage).Observe(r.Training.Seconds())
	m.iterations.WithLabelValues(stage).Inc()
	m.groups.WithLabelValues(stage, "kept").Add(float64(r.GroupsKept))
	m.groups.WithLabelValues(stage, "dropped_abandoned").Add(float64(r.GroupsDroppedAbandoned))
	m.groups.WithLabelValues(stage, "dropped_zero_advantage").Add(float64(r.GroupsDroppedZeroAdvantage))
	if t := r.Train; t.Steps > 0 || t.Tokens > 0 { // a learner step ran (not a frozen policy's)
		m.loss.Set(t.Loss)
		m.clip.WithLabelValues("low").Set(t.ClipFracLow)
		m.clip.WithLabelValues("high").Set(t.ClipFracHigh)
		m.entropy.Set(t.Entropy)
		m.gradNorm.Set(t.GradNorm)
	}
	m.version.Set(float64(r.PolicyVersion + 1))
}

// barrierWait is the time from the arrival of the record that brought BarrierQuantile
// of the requested episodes to the arrival of the last one; false when too few
// arrived to say (arrived is in arrival order).
func barrierWait(arrived []time.Time, requested int) (time.Duration, bool) {
	need := int(math.Ceil(BarrierQuantile * float64(requested)))
	if requested <= 0 || need < 1 || len(arrived) < need {
		return 0, false
	}
	return arrived[len(arrived)-1].Sub(arrived[need-1]), true
}

// Eval sets the held-out pass rates of e's stage and the policy version measured.
func (m *Metrics) Eval(e observe.Eval) {
	m.pass1.WithLabelValues(e.Stage).Set(e.Pass1)
	m.passG.WithLabelValues(e.Stage).Set(e.PassG)
	m.version.Set(float64(e.Version))
}
