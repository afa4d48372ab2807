package benchmarks

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/actors/actorstest"
	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/swe"
)

// The rollout-throughput grid (`swerl bench grid`): the real engine (engine.Run, the
// whole actor tree and its scheduling) drives fakes whose latencies follow published
// LLM serving and SWE-agent numbers, inside a testing/synctest bubble, so an iteration of
// 10,000 episodes x ~40 turns with second-long latencies runs in seconds of real time.
// Every latency is drawn from (seed, episode key, turn), never from scheduling order.

// LogNormal is a latency distribution: Median * exp(Sigma * Z), Z standard normal,
// cut at Max (0: no cut). The zero value is a latency of 0.
type LogNormal struct {
	Median time.Duration `json:"median_ns"`
	Sigma  float64       `json:"sigma"`
	Max    time.Duration `json:"max_ns,omitempty"`
}

func (l LogNormal) at(z float64) time.Duration {
	if l.Median <= 0 {
		return 0
	}
	d := time.Duration(float64(l.Median) * math.Exp(l.Sigma*z))
	if l.Max > 0 && d > l.Max {
		d = l.Max
	}
	return d
}

// Scenario is one simulated deployment: model and servers, sandboxes, learner.
//
// Turn counts are a mixture, not a constant, because that is what sets the barrier:
// failing episodes often loop until the turn cap (PAPER.md's turn penalty reaches -1
// there, which is why it exists), while the rest submit earlier, so a long tail of
// capped episodes meets a bulk of short ones. Per-turn latencies are drawn i.i.d. per
// (episode, turn): they do not grow with the context, nor with the server's load (the
// medians are already "at load"); the server only caps how many run at once. What is
// measured by others and what is derived or assumed is said in Sources.
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description"`

	// Turns per episode: a share CapShare of the episodes (failing ones that loop)
	// runs to TurnCap; the rest submit after round(SubmitMedian * exp(SubmitSigma*Z))
	// turns, kept within [MinTurns, TurnCap-1]. The submit turn counts.
	TurnCap      int     `json:"turn_cap"`
	MinTurns     int     `json:"min_turns"`
	CapShare     float64 `json:"cap_share"`
	SubmitMedian float64 `json:"submit_median_turns"`
	SubmitSigma  float64 `json:"submit_sigma"`

	Generate     LogNormal `json:"generate"`         // policy latency of one turn (a slot held)
	GenSlots     int       `json:"generation_slots"` // generations in flight (servers x max_num_seqs); 0: no cap
	Command      LogNormal `json:"command"`          // one command in the sandbox
	SandboxStart LogNormal `json:"sandbox_start"`    // sandbox ready time
	Grade        LogNormal `json:"grade"`            // running the task's tests

	// Learner time at the barrier: TrainFixed + TrainPerEpisode x episodes (update
	// and reload of the weights into the servers).
	TrainFixed      time.Duration `json:"train_fixed_ns"`
	TrainPerEpisode time.Duration `json:"train_per_episode_ns"`

	Sources []string `json:"sources"`
}

// Sources of the scenario numbers. What is measured by others is cited; what is
// derived from it (and how) is said; the rest is labelled as an assumption.
var (
	srcPaper = "Golubev et al. arXiv 2508.03501 (PAPER.md): Qwen2.5-72B-Instruct, vLLM rollouts, " +
		"16 nodes x 8 H200, turn caps 40 (stage 1) / 80 (stage 2), G = 10, one pod per agent, " +
		"the whole batch graded before training"
	srcTPOT70 = "Llama-70B-class decode on vLLM: ~85 tok/s (H100) to ~120 tok/s (H200) per stream at batch 1 " +
		"(ai-infra-index inference-benchmarks, https://alpha-one-index.github.io/ai-infra-index/specs/inference-benchmarks.html); " +
		"TPOT p95 40 ms / TTFT p95 600 ms as the serving target of Llama 3.3 70B at 200 concurrent requests " +
		"(https://luzbetak.github.io/Design/AI_Systems/LLM-Inference-Service.html). Derived: 35 ms/token at load"
	srcEffi = "SWE-Effi (arXiv 2509.09853, https://alphaxiv.org/benchmarks/the-chinese-university-of-hong-kong-shenzhen/swe-effi): " +
		"per LLM call 1.457 s + 4.27e-5 s/input token + 5.0e-3 s/output token (Llama-3.3-70B, API-served, low load) - " +
		"our at-load median (9.5 s) is above it, as a batched self-hosted server is"
	srcSeqs = "vLLM max_num_seqs 256 (default; 512 in the TP=8 H200 example of " +
		"https://ai-hpc.github.io/ai-hardware-engineer-roadmap/ ... 8x-H200-Training-Inference/03-Inference-Setup)"
	srcTPOT8 = "Llama 3.1 8B: ~12,500 output tok/s aggregate on 1 H100 with vLLM (https://www.morphllm.com/vllm-benchmarks), " +
		"i.e. ~49 tok/s (20 ms/token) per sequence at 256 in flight. Derived for a 7-14B model: 14 ms/token at load"
	srcAssume = "Assumptions (no published source used): 250 output tokens per SWE-agent turn (thought + one command); " +
		"command latency median 0.4 s with a heavy tail (sigma 1.3, p99 ~8 s, cut at the 3 min command timeout); " +
		"sandbox start 20 s median (pod start, SWE-rebench image cached on the node); grading 45 s median (the task's tests); " +
		"turn mixture (share running to the cap, submit-turn median); learner = weight reload + 6N FLOPs/token at ~40% MFU " +
		"over ~30k trained tokens per trajectory (72B on 128 H200: ~1.2e5 tok/s -> 0.25 s per episode, 120 s reload)"
)

// Scenarios are the named scenarios of the grid.
var Scenarios = []Scenario{
	{
		Name: "swe-72b",
		Description: "Qwen2.5-72B served by vLLM (16 servers x max_num_seqs 256), SWE-rebench sandboxes, " +
			"stage-2 turn cap 80: 25% of episodes loop to the cap, the rest submit after ~28 turns",
		TurnCap: 80, MinTurns: 10, CapShare: 0.25, SubmitMedian: 28, SubmitSigma: 0.45,
		Generate:     LogNormal{Median: 9500 * time.Millisecond, Sigma: 0.5, Max: 2 * time.Minute},
		GenSlots:     16 * 256,
		Command:      LogNormal{Median: 400 * time.Millisecond, Sigma: 1.3, Max: 3 * time.Minute},
		SandboxStart: LogNormal{Median: 20 * time.Second, Sigma: 0.5, Max: 4 * time.Minute},
		Grade:        LogNormal{Median: 45 * time.Second, Sigma: 0.7, Max: 15 * time.Minute},
		TrainFixed:   120 * time.Second, TrainPerEpisode: 250 * time.Millisecond,
		Sources: []string{srcPaper, srcTPOT70, srcEffi, srcSeqs, srcAssume},
	},
	{
		Name: "swe-small",
		Description: "a 7-14B model on vLLM (8 single-GPU servers x max_num_seqs 256), same sandboxes, " +
			"stage-1 turn cap 40: 35% of episodes run to the cap, the rest submit after ~16 turns",
		TurnCap: 40, MinTurns: 10, CapShare: 0.35, SubmitMedian: 16, SubmitSigma: 0.4,
		Generate:     LogNormal{Median: 3800 * time.Millisecond, Sigma: 0.5, Max: time.Minute},
		GenSlots:     8 * 256,
		Command:      LogNormal{Median: 400 * time.Millisecond, Sigma: 1.3, Max: 3 * time.Minute},
		SandboxStart: LogNormal{Median: 20 * time.Second, Sigma: 0.5, Max: 4 * time.Minute},
		Grade:        LogNormal{Median: 45 * time.Second, Sigma: 0.7, Max: 15 * time.Minute},
		TrainFixed:   30 * time.Second, TrainPerEpisode: 50 * time.Millisecond,
		Sources: []string{srcPaper, srcTPOT8, srcSeqs, srcAssume},
	},
	{
		Name:        "zero",
		Description: "every latency 0 (swe-small's turn mixture): the engine's own cost only",
		TurnCap:     40, MinTurns: 10, CapShare: 0.35, SubmitMedian: 16, SubmitSigma: 0.4,
		Sources: []string{"none: all latencies are 0"},
	},
}

// ScenarioByName finds a named scenario.
func ScenarioByName(name string) (Scenario, bool) {
	for _, s := range Scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// Deterministic draws: splitmix64 over (seed, what, iteration, group, sample, turn).
const (
	drawTurnsCap = iota + 1
	drawTurns
	drawGen
	drawCmd
	drawStart
	drawGrade
	drawResolved
)

func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func uniform(seed uint64, what int, k messages.EpisodeKey, turn, salt int) float64 {
	h := mix(seed)
	for _, v := range []uint64{uint64(what), uint64(k.Iteration), uint64(k.Group), uint64(k.Sample), uint64(turn), uint64(salt)} {
		h = mix(h ^ v)
	}
	return (float64(h>>11) + 0.5) / (1 << 53) // in (0, 1)
}

func normal(seed uint64, what int, k messages.EpisodeKey, turn int) float64 {
	u1, u2 := uniform(seed, what, k, turn, 0), uniform(seed, what, k, turn, 1)
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// Turns is the drawn turn count of an episode (the submit turn included).
func (s Scenario) Turns(seed uint64, k messages.EpisodeKey) int {
	if uniform(seed, drawTurnsCap, k, 0, 0) < s.CapShare {
		return s.TurnCap
	}
	n := int(math.Round(s.SubmitMedian * math.Exp(s.SubmitSigma*normal(seed, drawTurns, k, 0))))
	return min(max(n, s.MinTurns), s.TurnCap-1)
}

// Submits reports whether the episode ends with submit (else at the turn cap).
func (s Scenario) Submits(seed uint64, k messages.EpisodeKey) bool {
	return s.Turns(seed, k) < s.TurnCap
}

// GenLatency, CommandLatency, StartLatency and GradeLatency are the drawn latencies.
func (s Scenario) GenLatency(seed uint64, k messages.EpisodeKey, turn int) time.Duration {
	return s.Generate.at(normal(seed, drawGen, k, turn))
}

func (s Scenario) CommandLatency(seed uint64, k messages.EpisodeKey, turn int) time.Duration {
	return s.Command.at(normal(seed, drawCmd, k, turn))
}

func (s Scenario) StartLatency(seed uint64, k messages.EpisodeKey) time.Duration {
	return s.SandboxStart.at(normal(seed, drawStart, k, 0))
}

func (s Scenario) GradeLatency(seed uint64, k messages.EpisodeKey) time.Duration {
	return s.Grade.at(normal(seed, drawGrade, k, 0))
}

// TrainTime is the learner's time at the barrier of an iteration of n episodes.
func (s Scenario) TrainTime(n int) time.Duration {
	return s.TrainFixed + time.Duration(n)*s.TrainPerEpisode
}

// GridPoint is one run: a scenario at a concurrency with the schedule options.
type GridPoint struct {
	Scenario   Scenario
	Episodes   int // concurrent episodes per iteration (tasks x G, G = 10)
	Iterations int // 0: 3
	Seed       uint64
	NoOverlap  bool
	Order      actors.GenerationOrder // "": most turns left
}

func (p GridPoint) order() actors.GenerationOrder {
	if p.Order == "" {
		return actors.OrderMostTurnsLeft
	}
	return p.Order
}

func (p GridPoint) String() string {
	return fmt.Sprintf("%s/episodes=%d/overlap=%t/order=%s", p.Scenario.Name, p.Episodes, !p.NoOverlap, p.order())
}

// IterationMeasure is what one iteration did, in simulated (fake-clock) seconds.
type IterationMeasure struct {
	Iteration int `json:"iteration"`
	// WallS: from the policy version being loaded to the next one loaded (rollout +
	// training); iteration 0 starts at the start of the run.
	WallS float64 `json:"wall_s"`
	// BoundS = TrainS + max(LongestS, GenWorkPerSlotS): no schedule can beat it.
	BoundS          float64 `json:"bound_s"`
	Ratio           float64 `json:"ratio"`
	TrainS          float64 `json:"train_s"`
	LongestS        float64 `json:"longest_episode_s"` // max over episodes of its own policy-dependent latency sum
	GenWorkPerSlotS float64 `json:"gen_work_per_slot_s"`
	RolloutS        float64 `json:"rollout_s"`   // policy loaded to the last episode graded
	StragglerS      float64 `json:"straggler_s"` // last episode graded minus the 90th-percentile one
	InferenceUtil   float64 `json:"inference_util"`
	SandboxUtil     float64 `json:"sandbox_util"`
	MaxInFlight     int     `json:"max_generations_in_flight"`
	Episodes        int     `json:"episodes"`
	Turns           int     `json:"turns"`
}

// PointResult is a grid point's outcome. The steady-state fields average iterations
// 1.. (iteration 0 has no previous training to overlap its sandbox starts with).
type PointResult struct {
	Scenario   string             `json:"scenario"`
	Episodes   int                `json:"episodes"`
	Overlap    bool               `json:"overlap"`
	Order      string             `json:"order"`
	Seed       uint64             `json:"seed"`
	Iterations []IterationMeasure `json:"iterations"`

	IterationS    float64 `json:"steady_iteration_s"`
	BoundS        float64 `json:"steady_bound_s"`
	Ratio         float64 `json:"steady_ratio"`
	StragglerS    float64 `json:"steady_straggler_s"`
	InferenceUtil float64 `json:"steady_inference_util"`
	SandboxUtil   float64 `json:"steady_sandbox_util"`

	Turns            int     `json:"turns"`              // all iterations
	RealS            float64 `json:"real_s"`             // real wall time of the whole run
	EngineUSPerTurn  float64 `json:"engine_us_per_turn"` // real wall time / turns
	EngineCPUPerTurn float64 `json:"engine_cpu_us_per_turn"`
}

// trace is what the fakes saw of one episode (fake-clock times).
type trace struct {
	startCall, end    time.Time
	start, gen, cmd   time.Duration
	grade             time.Duration
	gens, execs       int
	graded, startSeen bool
}

// gridWorld holds the fakes of one run and what they recorded.
type gridWorld struct {
	sc   Scenario
	seed uint64
	slot chan struct{} // generation slots (nil: no cap)

	mu       sync.Mutex
	traces   map[messages.EpisodeKey]*trace
	inFlight int
	maxIn    map[int]int // iteration -> max generations in flight
	version  int
}

func newGridWorld(sc Scenario, seed uint64) *gridWorld {
	w := &gridWorld{sc: sc, seed: seed, traces: map[messages.EpisodeKey]*trace{}, maxIn: map[int]int{}}
	if sc.GenSlots > 0 {
		w.slot = make(chan struct{}, sc.GenSlots)
	}
	return w
}

func (w *gridWorld) trace(k messages.EpisodeKey) *trace {
	t := w.traces[k]
	if t == nil {
		t = &trace{}
		w.traces[k] = t
	}
	return t
}

// gridPolicy is the fake inference server: it holds one of GenSlots slots for the
// drawn latency, and submits on the episode's drawn last turn.
type gridPolicy struct{ w *gridWorld }

var (
	gridCommand = "Looking around.\n```command\nls -la\n```\n"
	gridSubmit  = "Done.\n```command\n" + swe.SubmitCommand + "\n```\n"
)

func (p gridPolicy) Generate(ctx context.Context, req policy.Request) (policy.Reply, error) {
	w, k := p.w, req.Ref.Key()
	if w.slot != nil {
		select {
		case w.slot <- struct{}{}:
		case <-ctx.Done():
			return policy.Reply{}, &policy.Error{Retryable: true, Err: ctx.Err()}
		}
		defer func() { <-w.slot }()
	}
	d := w.sc.GenLatency(w.seed, k, req.Turn)
	w.mu.Lock()
	w.inFlight++
	w.maxIn[k.Iteration] = max(w.maxIn[k.Iteration], w.inFlight)
	w.mu.Unlock()
	err := actorstest.Sleep(ctx, d)
	w.mu.Lock()
	w.inFlight--
	if err == nil {
		t := w.trace(k)
		t.gen += d
		t.gens++
	}
	w.mu.Unlock()
	if err != nil {
		return policy.Reply{}, &policy.Error{Retryable: true, Err: err}
	}
	text := gridCommand
	if w.sc.Submits(w.seed, k) && req.Turn == w.sc.Turns(w.seed, k)-1 {
		text = gridSubmit
	}
	return policy.Reply{Text: text, Tokens: replyTokens, Logprobs: replyLogprobs}, nil
}

// gridSandboxes starts sandboxes after the drawn start time; commands take the drawn
// command latency of their turn.
type gridSandboxes struct{ w *gridWorld }

type gridSandbox struct {
	w     *gridWorld
	k     messages.EpisodeKey
	execs int
}

func (f gridSandboxes) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Sandbox, error) {
	w, k := f.w, spec.Ref.Key()
	d := w.sc.StartLatency(w.seed, k)
	w.mu.Lock()
	t := w.trace(k)
	t.startCall, t.startSeen = time.Now(), true
	w.mu.Unlock()
	if err := actorstest.Sleep(ctx, d); err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.trace(k).start = d
	w.mu.Unlock()
	return &gridSandbox{w: w, k: k}, nil
}

func (s *gridSandbox) Exec(ctx context.Context, command string) (sandbox.Output, error) {
	turn := s.execs // one command per turn: no format errors, no retries
	s.execs++
	d := s.w.sc.CommandLatency(s.w.seed, s.k, turn)
	if err := actorstest.Sleep(ctx, d); err != nil {
		return sandbox.Output{}, err
	}
	s.w.mu.Lock()
	t := s.w.trace(s.k)
	t.cmd += d
	t.execs++
	s.w.mu.Unlock()
	return sandbox.Output{Text: "README.md\nsrc\ntests"}, nil
}

func (s *gridSandbox) Root() string { return "/repo" }
func (s *gridSandbox) ReadFile(context.Context, string, int64) ([]byte, error) {
	return nil, fmt.Errorf("grid sandbox: no files")
}
func (s *gridSandbox) WriteFile(context.Context, string, []byte) error {
	return fmt.Errorf("grid sandbox: no files")
}
func (s *gridSandbox) Diff(context.Context) (string, error) { return "", nil }
func (s *gridSandbox) Close(context.Context) error          { return nil }

// gridGrader takes the drawn grading time; the episode ends when it returns.
type gridGrader struct{ w *gridWorld }

func (g gridGrader) Grade(ctx context.Context, req messages.GradeRequest) (swe.Verdict, error) {
	w, k := g.w, req.Ref.Key()
	d := w.sc.GradeLatency(w.seed, k)
	if err := actorstest.Sleep(ctx, d); err != nil {
		return swe.Verdict{}, err
	}
	w.mu.Lock()
	t := w.trace(k)
	t.grade, t.end, t.graded = d, time.Now(), true
	w.mu.Unlock()
	// A third of the samples resolve, so most groups have mixed outcomes.
	return swe.Verdict{Resolved: uniform(w.seed, drawResolved, k, 0, 0) < 1.0/3}, nil
}

// gridTrainer takes the scenario's learner time for the batch's iteration size.
type gridTrainer struct {
	w        *gridWorld
	episodes int
}

func (t gridTrainer) Version() int {
	t.w.mu.Lock()
	defer t.w.mu.Unlock()
	return t.w.version
}

func (t gridTrainer) Train(ctx context.Context, b messages.TrainBatch) (messages.TrainStats, error) {
	if err := actorstest.Sleep(ctx, t.w.sc.TrainTime(t.episodes)); err != nil {
		return messages.TrainStats{}, err
	}
	t.w.mu.Lock()
	t.w.version++
	t.w.mu.Unlock()
	return messages.TrainStats{Steps: 1, Trajectories: b.Len()}, nil
}

// gridConfig is the engine configuration of a point: clocks far beyond any draw, so
// that no deadline cuts an episode (the validity check would fail).
func gridConfig(p GridPoint, w *gridWorld) engine.Config {
	n := p.Episodes / group
	cfg := engine.DefaultConfig()
	cfg.Iterations, cfg.TasksPerIteration, cfg.GroupSize, cfg.Seed = p.iterations(), n, group, p.Seed
	cfg.Tasks = taskPool(n)
	cfg.Policy, cfg.Sandboxes, cfg.Grader = gridPolicy{w}, gridSandboxes{w}, gridGrader{w}
	cfg.Trainer = gridTrainer{w: w, episodes: p.Episodes}
	cfg.MaxInFlightGenerations = p.Scenario.GenSlots
	cfg.GenerationOrder, cfg.NoOverlap = p.order(), p.NoOverlap
	cfg.Episode.TurnCap = p.Scenario.TurnCap
	cfg.Episode.CommandTimeout = time.Hour
	cfg.Episode.TurnTimeout = 24 * time.Hour
	cfg.Episode.EpisodeTimeout = 72 * time.Hour
	cfg.Episode.GradeTimeout = 24 * time.Hour
	cfg.Episode.Sandbox.StartTimeout = 24 * time.Hour
	cfg.LearnerResend = 72 * time.Hour
	return cfg
}

func (p GridPoint) iterations() int {
	if p.Iterations == 0 {
		return 3
	}
	return p.Iterations
}

// RunPoint runs one grid point in a synctest bubble and checks it: every episode one
// record, none abandoned, each turn count as drawn, generations in flight within the
// cap, and the bound at most the measured time. Real time and CPU are measured outside
// the bubble.
func RunPoint(t *testing.T, p GridPoint) PointResult {
	t.Helper()
	if p.Episodes < group || p.Episodes%group != 0 {
		t.Fatalf("%s: episodes must be a positive multiple of %d", p, group)
	}
	var (
		res    engine.Result
		runErr error
		loaded []time.Time // [0]: run start; [k+1]: policy version k+1 loaded
		w      *gridWorld
	)
	cpu0 := cpuTime()
	real0 := time.Now()
	synctest.Test(t, func(t *testing.T) {
		w = newGridWorld(p.Scenario, p.Seed)
		cfg := gridConfig(p, w)
		var mu sync.Mutex
		loaded = []time.Time{time.Now()}
		cfg.OnIteration = func(actors.IterationReport) {
			mu.Lock()
			loaded = append(loaded, time.Now())
			mu.Unlock()
		}
		res, runErr = engine.Run(context.Background(), cfg)
	})
	realS := time.Since(real0).Seconds()
	cpuS := (cpuTime() - cpu0).Seconds()
	if runErr != nil {
		t.Fatalf("%s (seed %d): engine.Run: %v", p, p.Seed, runErr)
	}
	out := PointResult{Scenario: p.Scenario.Name, Episodes: p.Episodes, Overlap: !p.NoOverlap,
		Order: string(p.order()), Seed: p.Seed, RealS: realS}
	if len(res.Iterations) != p.iterations() || len(loaded) != p.iterations()+1 {
		t.Fatalf("%s (seed %d): %d iteration reports, %d loads; want %d", p, p.Seed, len(res.Iterations), len(loaded)-1, p.iterations())
	}
	for k, it := range res.Iterations {
		m := measureIteration(t, p, w, it, k, loaded[k], loaded[k+1])
		out.Iterations = append(out.Iterations, m)
		out.Turns += m.Turns
	}
	if out.Turns > 0 {
		out.EngineUSPerTurn = realS * 1e6 / float64(out.Turns)
		out.EngineCPUPerTurn = cpuS * 1e6 / float64(out.Turns)
	}
	out.steady()
	return out
}

// measureIteration checks iteration k's records against the draws and computes its
// measures from what the fakes saw.
func measureIteration(t *testing.T, p GridPoint, w *gridWorld, it actors.IterationReport, k int, t0, t1 time.Time) IterationMeasure {
	t.Helper()
	sc := p.Scenario
	if it.Requested != p.Episodes || len(it.Records) != p.Episodes || it.Abandoned != 0 || it.Finished != p.Episodes {
		t.Fatalf("%s (seed %d) iteration %d: %d records, %d finished, %d abandoned of %d requested; want %d finished",
			p, p.Seed, k, len(it.Records), it.Finished, it.Abandoned, it.Requested, p.Episodes)
	}
	m := IterationMeasure{Iteration: k, Episodes: p.Episodes, WallS: t1.Sub(t0).Seconds()}
	train := sc.TrainTime(p.Episodes)
	m.TrainS = train.Seconds()
	var overlap time.Duration // sandbox start that could hide under the previous training
	if k > 0 {
		overlap = train
	}
	var (
		longest, genWork, sbBusy time.Duration
		ends                     []time.Time
		firstStart               time.Time
		seen                     = map[messages.EpisodeKey]bool{}
	)
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range it.Records {
		key := r.Ref.Key()
		if key.Iteration != k || seen[key] {
			t.Fatalf("%s (seed %d) iteration %d: record %v misplaced or doubled", p, p.Seed, k, r.Ref)
		}
		seen[key] = true
		want, stop := sc.Turns(p.Seed, key), messages.StopTurnCap
		if want < sc.TurnCap {
			stop = messages.StopSubmit
		}
		if r.Status != messages.Finished || r.Turns() != want || r.Stop != stop {
			t.Fatalf("%s (seed %d): %v: %s after %d turns (%s); drawn %d turns (%s)", p, p.Seed, r.Ref, r.Status, r.Turns(), r.Stop, want, stop)
		}
		tr := w.traces[key]
		if tr == nil || !tr.graded || !tr.startSeen || tr.gens != want {
			t.Fatalf("%s (seed %d): %v: the fakes saw %+v, want %d generations and a grading", p, p.Seed, r.Ref, tr, want)
		}
		m.Turns += want
		own := tr.gen + tr.cmd + tr.grade + max(0, tr.start-overlap)
		longest = max(longest, own)
		genWork += tr.gen
		sbBusy += tr.start + tr.cmd
		ends = append(ends, tr.end)
		if firstStart.IsZero() || tr.startCall.Before(firstStart) {
			firstStart = tr.startCall
		}
	}
	m.MaxInFlight = w.maxIn[k]
	if sc.GenSlots > 0 && m.MaxInFlight > sc.GenSlots {
		t.Fatalf("%s: %d generations in flight, cap %d", p, m.MaxInFlight, sc.GenSlots)
	}
	slices.SortFunc(ends, func(a, b time.Time) int { return a.Compare(b) })
	last := ends[len(ends)-1]
	m.StragglerS = last.Sub(ends[int(math.Ceil(0.9*float64(len(ends))))-1]).Seconds()
	m.RolloutS = last.Sub(t0).Seconds()
	m.LongestS = longest.Seconds()
	bound := longest
	if sc.GenSlots > 0 {
		perSlot := genWork / time.Duration(sc.GenSlots)
		m.GenWorkPerSlotS = perSlot.Seconds()
		bound = max(bound, perSlot)
	}
	m.BoundS = (bound + train).Seconds()
	m.Ratio = ratio(m.WallS, m.BoundS)
	if m.Ratio < 1 {
		t.Errorf("%s (seed %d) iteration %d: measured %.3f s is below the lower bound %.3f s", p, p.Seed, k, m.WallS, m.BoundS)
	}
	if slots := sc.GenSlots; slots > 0 && m.RolloutS > 0 {
		m.InferenceUtil = genWork.Seconds() / (float64(slots) * m.RolloutS)
	}
	if win := last.Sub(firstStart).Seconds(); win > 0 {
		m.SandboxUtil = sbBusy.Seconds() / (float64(p.Episodes) * win)
	}
	return m
}

// ratio is measured / bound; 1 when both are 0 (the zero-latency scenario).
func ratio(measured, bound float64) float64 {
	if bound <= 0 {
		if measured <= 0 {
			return 1
		}
		return math.MaxFloat64
	}
	return measured / bound
}

// steady averages the iterations after the first (all of them if there is one).
func (r *PointResult) steady() {
	its := r.Iterations
	if len(its) > 1 {
		its = its[1:]
	}
	var wall, bound float64
	for _, m := range its {
		wall += m.WallS
		bound += m.BoundS
		r.StragglerS += m.StragglerS
		r.InferenceUtil += m.InferenceUtil
		r.SandboxUtil += m.SandboxUtil
	}
	n := float64(len(its))
	r.IterationS, r.BoundS = wall/n, bound/n
	r.Ratio = ratio(wall, bound)
	r.StragglerS /= n
	r.InferenceUtil /= n
	r.SandboxUtil /= n
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// GridOptions selects the points of a grid run.
type GridOptions struct {
	Scenarios []string // names; empty: all
	Episodes  []int    // empty: 100, 1,000, 10,000
	Seed      uint64
	NoOverlap bool
	Order     actors.GenerationOrder
	// Compare adds, for each point, the two alternatives to the chosen options:
	// overlap off, and FIFO generation order.
	Compare  bool
	Progress io.Writer // nil: quiet
}

// DefaultEpisodes are the concurrency points.
var DefaultEpisodes = []int{100, 1000, 10000}

// Points lists the grid points of o, or an error for an unknown scenario.
func (o GridOptions) Points() ([]GridPoint, error) {
	names := o.Scenarios
	if len(names) == 0 {
		for _, s := range Scenarios {
			names = append(names, s.Name)
		}
	}
	eps := o.Episodes
	if len(eps) == 0 {
		eps = DefaultEpisodes
	}
	order := o.Order
	if order == "" {
		order = actors.OrderMostTurnsLeft
	}
	type variant struct {
		noOverlap bool
		order     actors.GenerationOrder
	}
	variants := []variant{{o.NoOverlap, order}}
	if o.Compare {
		for _, v := range []variant{{true, order}, {o.NoOverlap, actors.OrderFIFO}} {
			if !slices.Contains(variants, v) {
				variants = append(variants, v)
			}
		}
	}
	var pts []GridPoint
	for _, name := range names {
		sc, ok := ScenarioByName(name)
		if !ok {
			return nil, fmt.Errorf("unknown scenario %q", name)
		}
		for _, n := range eps {
			if n < group || n%group != 0 {
				return nil, fmt.Errorf("episodes %d: need a positive multiple of %d", n, group)
			}
			for _, v := range variants {
				pts = append(pts, GridPoint{Scenario: sc, Episodes: n, Seed: o.Seed, NoOverlap: v.noOverlap, Order: v.order})
			}
		}
	}
	return pts, nil
}

// GridResult is a whole grid run.
type GridResult struct {
	Seed      uint64        `json:"seed"`
	Note      string        `json:"note"`
	Scenarios []Scenario    `json:"scenarios"`
	Points    []PointResult `json:"points"`
}

// GridNote explains the measures (in grid.json and grid.md).
const GridNote = "Simulated seconds on a fake clock (testing/synctest), real engine (engine.Run). " +
	"Iteration = policy version loaded to the next one loaded (rollout + training); steady state = mean of " +
	"iterations 1 and 2 (iteration 0 has no previous training to overlap its sandbox starts with). " +
	"Bound = train + max(longest episode's own latency sum [generations + commands + grading + " +
	"max(0, sandbox start - previous training)], generation work / generation slots); sandboxes are not capped " +
	"(one pod per agent, as in the paper). Straggler = last episode graded minus the 90th-percentile one. " +
	"Utilisation = busy slot-seconds / (slots x window); inference window = policy loaded to last episode graded, " +
	"sandbox window = first sandbox start to last episode graded, a slot per episode. " +
	"Engine us/turn = REAL wall time of the run / turns of all iterations (CPU per turn in the JSON)."

// RunGrid runs every point of o, in order, reporting progress.
func RunGrid(t *testing.T, o GridOptions) GridResult {
	t.Helper()
	pts, err := o.Points()
	if err != nil {
		t.Fatal(err)
	}
	out := GridResult{Seed: o.Seed, Note: GridNote}
	have := map[string]bool{}
	for i, p := range pts {
		if !have[p.Scenario.Name] {
			have[p.Scenario.Name] = true
			out.Scenarios = append(out.Scenarios, p.Scenario)
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "  [%d/%d] %s ...", i+1, len(pts), p)
		}
		r := RunPoint(t, p)
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, " %.1fs real, iteration %.0fs simulated\n", r.RealS, r.IterationS)
		}
		out.Points = append(out.Points, r)
	}
	return out
}
