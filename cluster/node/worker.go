package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/cluster/wire"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/swe"
)

// Worlds rebuilds tasks on a worker: the sandbox factory for a task the head ships, and
// a grader for every task it has shipped.
type Worlds interface {
	// Open makes the task of w ready and returns its sandbox factory.
	Open(w *wire.World, task messages.TaskRef) (sandbox.Factory, error)
	swe.Grader
}

// WorkerConfig is a worker node.
type WorkerConfig struct {
	// Slots is how many episodes the worker runs at once: its sandbox cap, announced
	// to the head (default 4).
	Slots int
	// Name is the agent's actor name (default AgentName; tests run several workers in
	// one actor system).
	Name string
	// MemberID is the member ID the worker announces itself under (default the actor
	// system's ID, which is its ID in the member list; tests run several workers in one
	// actor system).
	MemberID string
	// CheckEvery is how often the worker checks its head's lease (default 250ms).
	CheckEvery time.Duration
	// GraderConcurrency caps concurrent gradings (0: Slots).
	GraderConcurrency int
	// Episode holds what the wire does not carry (backoff, sandbox start timeout).
	Episode actors.EpisodeConfig
	Worlds  Worlds
	// Policies opens the policies a head ships (an HTTP endpoint the worker calls
	// itself); nil: such episodes are abandoned with a clear cause.
	Policies *Policies
	Logger   hclog.Logger
	// Observer, if set, sees the events of the episodes this worker runs (its
	// Prometheus metrics: `swerl node --metrics-addr`).
	Observer actors.Observer
}

// Worker is a worker node's cluster layer: the agent actor and its grader pool.
type Worker struct {
	cfg    WorkerConfig
	system *actor.ActorSystem
	rt     *actors.Runtime
	agent  *actor.PID
	grader *actor.PID

	mu      sync.Mutex
	running int
	stats   WorkerStats
}

// WorkerStats counts what a worker did.
type WorkerStats struct {
	Started   int // episodes started
	Recorded  int // records acknowledged by a head
	CutOff    int // episodes stopped because the head's lease ran out
	Cancelled int // episodes the head cancelled
}

// StartWorker spawns the worker's agent (named AgentName) in system.
func StartWorker(system *actor.ActorSystem, cfg WorkerConfig) (*Worker, error) {
	if cfg.Slots <= 0 {
		cfg.Slots = 4
	}
	if cfg.Name == "" {
		cfg.Name = AgentName
	}
	if cfg.MemberID == "" {
		cfg.MemberID = system.ID
	}
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = 250 * time.Millisecond
	}
	if cfg.GraderConcurrency <= 0 {
		cfg.GraderConcurrency = cfg.Slots
	}
	if cfg.Episode == (actors.EpisodeConfig{}) {
		cfg.Episode = actors.DefaultEpisodeConfig()
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Worlds == nil {
		return nil, fmt.Errorf("cluster worker: no task worlds")
	}
	w := &Worker{cfg: cfg, system: system, rt: actors.NewRuntime(system, cfg.Logger)}
	if cfg.Observer != nil {
		w.rt.SetObserver(cfg.Observer)
	}
	graders := system.Root.Spawn(actors.NewGradersProps(w.rt, cfg.Worlds, cfg.GraderConcurrency))
	pid, err := system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor {
		return &agentActor{w: w, graders: graders, shims: map[string]*shimEntry{}, live: map[string]bool{}}
	}), cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("cluster worker: %w", err)
	}
	w.agent, w.grader = pid, graders
	return w, nil
}

// Agent is the agent's PID.
func (w *Worker) Agent() *actor.PID { return w.agent }

// Running is how many episodes run now.
func (w *Worker) Running() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running
}

// Stats returns the counters so far.
func (w *Worker) Stats() WorkerStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Stop stops every episode (removing their sandboxes) and the agent, and waits for
// the goroutines and timers they own.
func (w *Worker) Stop() {
	_ = w.system.Root.StopFuture(w.agent).Wait()
	_ = w.system.Root.StopFuture(w.grader).Wait()
	w.rt.Wait()
}

type shimEntry struct {
	pid     *actor.PID
	head    string
	attempt int64
	proxy   *actor.PID
	fence   *wire.Fence
	ref     messages.EpisodeRef
	task    messages.TaskRef
}

type checkLease struct{}

// agentActor takes the head's lease and episodes, and stops them all when the lease
// runs out.
type agentActor struct {
	w       *Worker
	graders *actor.PID
	shims   map[string]*shimEntry // episode key -> its shim
	live    map[string]bool       // the id of every shim not yet terminated, replaced ones included
	head    string                // the epoch of the head whose lease we hold
	headPID *actor.PID
	until   time.Time
	timer   *time.Timer
}

func (a *agentActor) Receive(c actor.Context) {
	w := a.w
	switch m := c.Message().(type) {
	case *actor.Started:
		a.schedule(c)
	case checkLease:
		if a.head != "" && time.Now().After(a.until) {
			a.cutOff(c, fmt.Sprintf("the lease of head %s ran out %v ago", a.head, time.Since(a.until).Round(time.Millisecond)))
		}
		a.schedule(c)
	case *wire.Lease:
		a.onLease(c, m)
	case *wire.StartEpisode:
		a.onStart(c, m)
	case *wire.CancelEpisode:
		k := keyOf(m.Ref.Msg())
		if e := a.shims[string(k)]; e != nil && e.head == m.Fence.GetHead() && e.attempt == m.Fence.GetAttempt() {
			w.cfg.Logger.Info("head cancelled an episode", actors.EpisodeFields(m.Ref.Msg(), int(e.attempt), "reason", m.Reason)...)
			w.count(func(s *WorkerStats) { s.Cancelled++ })
			c.Stop(e.pid)
		}
	case *actor.Terminated:
		// A shim's Terminated comes twice (to its parent and to its watcher), and a
		// shim replaced by a newer attempt of its episode is no longer in shims.
		if a.live[m.Who.Id] {
			delete(a.live, m.Who.Id)
			w.mu.Lock()
			w.running--
			w.mu.Unlock()
		}
		for k, e := range a.shims {
			if e.pid.Equal(m.Who) {
				w.cfg.Logger.Debug("episode ended", actors.EpisodeFields(e.ref, int(e.attempt), "shim", m.Who.Id)...)
				delete(a.shims, k)
			}
		}
	case *actor.Stopping:
		if a.timer != nil {
			a.timer.Stop()
		}
	}
}

func (w *Worker) count(f func(*WorkerStats)) {
	w.mu.Lock()
	f(&w.stats)
	w.mu.Unlock()
}

func (a *agentActor) schedule(c actor.Context) {
	self, sys := c.Self(), a.w.system
	a.timer = time.AfterFunc(a.w.cfg.CheckEvery, func() { sys.Root.Send(self, checkLease{}) })
}

func (a *agentActor) onLease(c actor.Context, m *wire.Lease) {
	w := a.w
	if sent := time.Unix(0, m.SentUnixNs); m.SentUnixNs > 0 && time.Since(sent) > time.Duration(m.TtlNs) {
		// A lease that sat in a buffer (this process was frozen, or the network held
		// it) renews nothing; only a clock far behind ours would make a fresh one look
		// this old, and then every lease is refused and the log says so.
		w.cfg.Logger.Warn("stale lease ignored", "head", m.Head, "age", time.Since(sent))
		return
	}
	if m.Head != a.head {
		if a.head != "" {
			a.cutOff(c, fmt.Sprintf("a new head %s took over from %s", m.Head, a.head))
		}
		w.cfg.Logger.Info("serving head", "head", m.Head, "address", m.HeadPid.GetAddress())
		a.head = m.Head
	}
	a.headPID = actorPID(m.HeadPid)
	// The lease runs from when we got it, so that a clock a little off does not
	// shorten it.
	a.until = time.Now().Add(time.Duration(m.TtlNs))
	c.Send(a.headPID, &wire.Announce{Member: w.cfg.MemberID, Slots: int64(w.cfg.Slots), InFlight: int64(len(a.shims)),
		Agent: wirePID(c.Self())})
}

// cutOff stops every episode: the head is gone or cut off from us.
func (a *agentActor) cutOff(c actor.Context, cause string) {
	a.w.cfg.Logger.Warn("cut off from the head: stopping episodes and removing their sandboxes", "episodes", len(a.shims), "cause", cause)
	a.w.count(func(s *WorkerStats) { s.CutOff += len(a.shims) })
	for _, e := range a.shims {
		// Tell the head (best effort: it may be the one that is gone), so that a
		// head still there places the episode again at once instead of waiting out
		// its deadline.
		a.giveBack(c, e.proxy, e.fence, e.ref, e.task, "the worker stopped it: "+cause)
		c.Stop(e.pid)
	}
	a.head = ""
}

// giveBack tells a proxy that this worker will not finish its attempt: an abandoned
// record of kind node_lost, which the proxy takes as the loss of this worker for that
// episode and places it again.
func (a *agentActor) giveBack(c actor.Context, proxy *actor.PID, fence *wire.Fence, ref messages.EpisodeRef, task messages.TaskRef, cause string) {
	if proxy == nil {
		return
	}
	rec := messages.Abandon(ref, task, messages.Failure{Kind: messages.FailNodeLost, Retryable: true, Cause: cause})
	c.Send(proxy, &wire.EpisodeDone{Fence: fence, Record: wire.RecordOf(rec)})
}

func (a *agentActor) onStart(c actor.Context, m *wire.StartEpisode) {
	w := a.w
	if m.Fence.GetHead() == "" || m.Fence.GetHead() != a.head || time.Now().After(a.until) {
		w.cfg.Logger.Warn("episode from a head whose lease we do not hold: given back (the head places it again)",
			actors.EpisodeFields(m.Ref.Msg(), int(m.Fence.GetAttempt()), "head", m.Fence.GetHead())...)
		a.giveBack(c, actorPID(m.Proxy), m.Fence, m.Ref.Msg(), m.Task.Msg(), "the worker holds no lease of this head")
		return
	}
	k := string(keyOf(m.Ref.Msg()))
	if e := a.shims[k]; e != nil {
		if e.head == m.Fence.Head && e.attempt >= m.Fence.Attempt {
			return // a doubled start
		}
		c.Stop(e.pid) // an older attempt of ours: the head placed it again
	}
	f, err := w.cfg.Worlds.Open(m.World, m.Task.Msg())
	kind := messages.FailSandboxStart
	var pol policy.Policy
	if m.Policy != nil && err == nil {
		kind = messages.FailGenerate
		if w.cfg.Policies == nil {
			err = fmt.Errorf("the head ships a %s policy and this worker opens none", m.Policy.Kind)
		} else {
			pol, err = w.cfg.Policies.Open(m.Policy)
		}
	}
	spec := actors.EpisodeSpec{Ref: m.Ref.Msg(), Task: m.Task.Msg(), Graders: a.graders, Sandboxes: f, Seed: m.Seed}
	s := &shimActor{w: w, fence: m.Fence, proxy: actorPID(m.Proxy), spec: spec,
		cfg: episodeConfig(m.Config, w.cfg.Episode), openErr: err, openKind: kind, pol: pol}
	pid := c.Spawn(actor.PropsFromProducer(func() actor.Actor { return s }))
	w.cfg.Logger.Debug("episode started", actors.EpisodeFields(spec.Ref, int(m.Fence.Attempt))...)
	c.Watch(pid)
	a.shims[k] = &shimEntry{pid: pid, head: m.Fence.Head, attempt: m.Fence.Attempt, proxy: actorPID(m.Proxy), fence: m.Fence,
		ref: spec.Ref, task: spec.Task}
	a.live[pid.Id] = true
	w.mu.Lock()
	w.running++
	w.stats.Started++
	w.mu.Unlock()
}

type resendRecord struct{}

// shimActor is the parent of one episode on a worker: it relays the episode's
// generations to the head's proxy and its record back, resending the record until the
// head acknowledges it.
type shimActor struct {
	w        *Worker
	fence    *wire.Fence
	proxy    *actor.PID
	spec     actors.EpisodeSpec
	cfg      actors.EpisodeConfig
	openErr  error
	openKind messages.FailureKind
	pol      policy.Policy // set: generations are ours to make, not the head's
	ctx      context.Context
	cancel   context.CancelFunc

	episode *actor.PID
	done    *wire.EpisodeDone
	timer   *time.Timer
}

func (s *shimActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		if s.openErr != nil {
			rec := messages.Abandon(s.spec.Ref, s.spec.Task, messages.Failure{Kind: s.openKind,
				Cause: fmt.Sprintf("worker %s: %v", c.Self().Address, s.openErr)})
			s.send(c, rec)
			return
		}
		s.ctx, s.cancel = context.WithCancel(context.Background())
		spec := s.spec
		spec.Inference, spec.Coordinator = c.Self(), c.Self()
		s.episode = c.Spawn(actors.NewEpisodeProps(s.w.rt, s.cfg, spec))
	case messages.GenerateRequest:
		if s.pol != nil {
			s.generate(c, m)
			return
		}
		c.Send(s.proxy, wire.GenerateRequestOf(s.fence, m, wirePID(c.Self())))
	case *wire.GenerateReply:
		if s.episode != nil && s.same(m.Fence) {
			c.Send(s.episode, m.Msg())
		}
	case *wire.GenerateFailed:
		if s.episode != nil && s.same(m.Fence) {
			c.Send(s.episode, m.Msg())
		}
	case messages.EpisodeRecord:
		if s.done == nil {
			s.send(c, m)
		}
	case resendRecord:
		if s.done != nil {
			c.Send(s.proxy, s.done)
			s.arm(c)
		}
	case *wire.RecordAck:
		if s.same(m.Fence) {
			s.w.count(func(st *WorkerStats) { st.Recorded++ })
			c.Stop(c.Self())
		}
	case *actor.Stopping:
		if s.timer != nil {
			s.timer.Stop()
		}
		if s.cancel != nil {
			s.cancel()
		}
	}
}

// generate calls the shipped policy in an owned goroutine and sends the answer to the
// episode that asked.
func (s *shimActor) generate(c actor.Context, m messages.GenerateRequest) {
	to, ctx, pol, sys := c.Sender(), s.ctx, s.pol, s.w.system
	if to == nil {
		to = s.episode
	}
	s.w.rt.Go(func() {
		sys.Root.Send(to, generate(ctx, pol, m))
	}, func(p actors.Panic) {
		sys.Root.Send(to, messages.GenerateFailed{Ref: m.Ref, Attempt: m.Attempt, Turn: m.Turn,
			Failure: messages.Failure{Kind: messages.FailGenerate, Cause: "policy panicked: " + p.Error()}})
	})
}

func (s *shimActor) same(f *wire.Fence) bool {
	return f.GetHead() == s.fence.GetHead() && f.GetAttempt() == s.fence.GetAttempt()
}

func (s *shimActor) send(c actor.Context, rec messages.EpisodeRecord) {
	if s.episode != nil {
		c.Stop(s.episode) // its record is in: the episode and its sandbox can go
	}
	s.done = &wire.EpisodeDone{Fence: s.fence, Record: wire.RecordOf(rec), Shim: wirePID(c.Self())}
	c.Send(s.proxy, s.done)
	s.arm(c)
}

func (s *shimActor) arm(c actor.Context) {
	self, sys := c.Self(), s.w.system
	s.timer = time.AfterFunc(time.Second, func() { sys.Root.Send(self, resendRecord{}) })
}
