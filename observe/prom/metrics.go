package prom

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/messages"
)

// Buckets of the latency histograms, exponential: a turn's generate or exec time
// (1 ms to 10 min), a sandbox start (10 ms to 30 min), and an iteration's rollout,
// learner step and barrier wait (1 ms to 2 h).
var (
	turnBuckets      = prometheus.ExponentialBucketsRange(0.001, 600, 20)
	sandboxBuckets   = prometheus.ExponentialBucketsRange(0.01, 1800, 18)
	iterationBuckets = prometheus.ExponentialBucketsRange(0.001, 7200, 24)
)

// BarrierQuantile is the share of an iteration's episodes after whose records the
// barrier wait is measured: swerl_barrier_wait_seconds is how long the barrier then
// waited for the rest (the stragglers).
const BarrierQuantile = 0.9

// Metrics is a Watcher that keeps a run's Prometheus metrics. Build it with New.
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time

	episodes          *prometheus.CounterVec // stage, status, stop_reason
	resolved          *prometheus.CounterVec // stage
	running           prometheus.Gauge
	inPhase           *prometheus.GaugeVec // phase
	iterationsStarted prometheus.Counter
	iterations        *prometheus.CounterVec // stage
	groups            *prometheus.CounterVec // stage, outcome

	turns        prometheus.Counter
	tokens       prometheus.Counter
	formatErrors prometheus.Counter
	generate     prometheus.Histogram
	exec         prometheus.Histogram

	sandboxStarts   prometheus.Counter
	sandboxFailures *prometheus.CounterVec // kind
	sandboxesInUse  prometheus.Gauge
	sandboxStart    prometheus.Histogram

	retries *prometheus.CounterVec // kind
	stale   prometheus.Counter

	barrierWait *prometheus.HistogramVec // stage
	rollout     *prometheus.HistogramVec // stage
	learnerStep *prometheus.HistogramVec // stage

	loss     prometheus.Gauge
	clip     *prometheus.GaugeVec // side
	entropy  prometheus.Gauge
	gradNorm prometheus.Gauge
	version  prometheus.Gauge

	pass1 *prometheus.GaugeVec // stage
	passG *prometheus.GaugeVec // stage

	mu       sync.Mutex
	phases   map[messages.EpisodeKey]actors.Phase // the episodes running now, by key
	arrivals map[int][]time.Time                  // when each record of an iteration of this run arrived
}

// New builds the metrics and their registry (with the Go runtime's and the process's
// collectors).
func New() *Metrics { return newMetrics(time.Now) }

func newMetrics(now func() time.Time) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), now: now,
		phases: map[messages.EpisodeKey]actors.Phase{}, arrivals: map[int][]time.Time{}}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "swerl_" + name, Help: help})
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swerl_" + name, Help: help}, labels)
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: "swerl_" + name, Help: help})
	}
	gaugeVec := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "swerl_" + name, Help: help}, labels)
	}
	histogram := func(name, help string, buckets []float64) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: "swerl_" + name, Help: help, Buckets: buckets})
	}
	histogramVec := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "swerl_" + name, Help: help, Buckets: buckets}, labels)
	}

	m.episodes = counterVec("episodes_total", "Episodes whose terminal record reached the barrier, by run stage, status (finished, abandoned) and stop reason.", "stage", "status", "stop_reason")
	m.resolved = counterVec("episodes_resolved_total", "Episodes whose patch resolved their task (reward 1), by run stage.", "stage")
	m.running = gauge("episodes_running", "Episodes started and not yet done (their record not yet sent).")
	m.inPhase = gaugeVec("episodes_in_phase", "Episodes running now, by the phase they are in (what they wait for).", "phase")
	m.iterationsStarted = counter("iterations_started_total", "Iterations whose episodes were spawned.")
	m.iterations = counterVec("iterations_total", "Iterations whose barrier trained and whose policy was loaded, by run stage.", "stage")
	m.groups = counterVec("groups_total", "Task groups at the barrier, by run stage and outcome (kept, dropped_abandoned, dropped_zero_advantage).", "stage", "outcome")

	m.turns = counter("turns_total", "Agent turns finished (one reply of the policy, and its command if it had one), of every attempt.")
	m.tokens = counter("assistant_tokens_total", "Assistant tokens the policy generated.")
	m.formatErrors = counter("format_errors_total", "Turns whose reply held no single command.")
	m.generate = histogram("generate_duration_seconds", "Time the policy took to generate a turn's reply.", turnBuckets)
	m.exec = histogram("exec_duration_seconds", "Time a turn's command ran in its sandbox (turns that ran one).", turnBuckets)

	m.sandboxStarts = counter("sandbox_starts_total", "Sandboxes started and ready.")
	m.sandboxFailures = counterVec("sandbox_start_failures_total", "Sandboxes that could not start, by failure kind.", "kind")
	m.sandboxesInUse = gauge("sandboxes_in_use", "Sandboxes started and not yet released.")
	m.sandboxStart = histogram("sandbox_start_duration_seconds", "Time a sandbox took to be ready.", sandboxBuckets)

	m.retries = counterVec("retries_total", "Infrastructure failures that were retried, by failure kind.", "kind")
	m.stale = counter("stale_replies_total", "Replies dropped because they belonged to another attempt, turn or policy version.")

	m.barrierWait = histogramVec("barrier_wait_seconds", "Per iteration: the time from the arrival of the record that brought 90% of the iteration's requested episodes to the barrier, to the arrival of its last record (how long the barrier waited for stragglers), by run stage.", iterationBuckets, "stage")
	m.rollout = histogramVec("iteration_rollout_duration_seconds", "Per iteration: the time from spawning its episodes to its last terminal record, by run stage.", iterationBuckets, "stage")
	m.learnerStep = histogramVec("learner_step_duration_seconds", "Per iteration: the time from sending the batch to the learner to the new policy being loaded, by run stage.", iterationBuckets, "stage")

	m.loss = gauge("loss", "Training loss of the last learner step.")
	m.clip = gaugeVec("clip_fraction", "Share of tokens whose probability ratio was clipped in the last learner step, by side (low, high).", "side")
	m.entropy = gauge("entropy", "Mean token entropy of the policy in the last learner step.")
	m.gradNorm = gauge("grad_norm", "Gradient norm of the last learner step.")
	m.version = gauge("policy_version", "Version of the policy being served: the one the last iteration sampled, or the one loaded after its barrier, or the one the last evaluation measured.")

	m.pass1 = gaugeVec("heldout_pass_at_1", "Held-out pass@1 (a ratio) of the last evaluation, by evaluation stage.", "stage")
	m.passG = gaugeVec("heldout_pass_at_g", "Held-out pass@G (a ratio: a task is solved by at least one of its G samples) of the last evaluation, by evaluation stage.", "stage")

	for _, p := range []actors.Phase{actors.PhaseStarting, actors.PhaseGenerating, actors.PhaseExecuting,
		actors.PhaseDiffing, actors.PhaseGrading, actors.PhaseBackoff} {
		m.inPhase.WithLabelValues(string(p))
	}
	m.clip.WithLabelValues("low")
	m.clip.WithLabelValues("high")

	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.episodes, m.resolved, m.running, m.inPhase, m.iterationsStarted, m.iterations, m.groups,
		m.turns, m.tokens, m.formatErrors, m.generate, m.exec,
		m.sandboxStarts, m.sandboxFailures, m.sandboxesInUse, m.sandboxStart,
		m.retries, m.stale, m.barrierWait, m.rollout, m.learnerStep,
		m.loss, m.clip, m.entropy, m.gradNorm, m.version, m.pass1, m.passG)
	return m
}

// Registry is the registry the metrics are in (to gather them, or to add more).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus's exposition format (at /metrics, say).
// Scrapes are counted in promhttp_metric_handler_requests_total.
func (m *Metrics) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
}
