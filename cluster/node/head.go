package node

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/cluster/membership"
	"github.com/swerl/swerl/cluster/placement"
	"github.com/swerl/swerl/cluster/wire"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sim"
)

// HeadConfig is the head's side of the cluster protocol.
type HeadConfig struct {
	// LeaseTTL is how long a worker keeps running the head's episodes without hearing
	// from it (default 5s). The head renews every LeaseTTL/5.
	LeaseTTL time.Duration
	// NodeLostBudget is how many times an episode is placed again after losing its
	// worker before it is recorded as abandoned, node_lost (default 3).
	NodeLostBudget int
	// PlaceRetry is how often an episode waiting for a free slot looks again, besides
	// being woken when capacity grows (default 250ms).
	PlaceRetry time.Duration
	// AgentPID addresses a worker's agent; nil: the actor named AgentName at the
	// member's address. Tests put several agents in one actor system.
	AgentPID func(m membership.Member) *actor.PID
	Logger   hclog.Logger
}

func (c HeadConfig) withDefaults() HeadConfig {
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 5 * time.Second
	}
	if c.NodeLostBudget <= 0 {
		c.NodeLostBudget = 3
	}
	if c.PlaceRetry <= 0 {
		c.PlaceRetry = 250 * time.Millisecond
	}
	if c.AgentPID == nil {
		c.AgentPID = func(m membership.Member) *actor.PID { return actor.NewPID(m.Address, AgentName) }
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return c
}

// Stats counts what the head's cluster layer did.
type Stats struct {
	Placed       int64         // placements, first and again
	NodeLost     int64         // episodes whose worker was lost while they ran (each a retry)
	LateDropped  int64         // replies and records of an attempt that was no longer current
	GaveUp       int64         // episodes abandoned as node_lost after NodeLostBudget losses
	WorkersLost  int64         // workers that left while the head ran
	LastReplaced time.Duration // from the loss to the last lost episode placed again
}

// World tells a worker how to rebuild a task from its ID.
type World func(taskID string) (*wire.World, error)

// Head is the head node's cluster layer: the placement table, the lease on each
// worker, and the proxies of the episodes in flight.
type Head struct {
	cfg    HeadConfig
	system *actor.ActorSystem
	src    membership.Source
	table  *placement.Table
	epoch  string
	pid    *actor.PID
	unsub  func()

	mu      sync.Mutex
	policy  func(version int) (*wire.Policy, error)
	proxies map[placement.Key]*actor.PID
	waiting map[placement.Key]*actor.PID
	members map[string]membership.Member
	agents  map[string]string    // watched agent PID -> worker id
	lostAt  map[string]time.Time // worker -> when it was seen lost, until its episodes are placed again
	pending map[string]int       // worker -> lost episodes not yet placed again

	placed, nodeLost, late, gaveUp, workersLost atomic.Int64
	lastReplaced                                atomic.Int64
}

// NewHead starts the head's actor in system, fed by src.
func NewHead(system *actor.ActorSystem, src membership.Source, cfg HeadConfig) (*Head, error) {
	cfg = cfg.withDefaults()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	h := &Head{cfg: cfg, system: system, src: src, table: placement.New(), epoch: hex.EncodeToString(b[:]),
		proxies: map[placement.Key]*actor.PID{}, waiting: map[placement.Key]*actor.PID{},
		members: map[string]membership.Member{}, agents: map[string]string{}, lostAt: map[string]time.Time{}, pending: map[string]int{}}
	pid, err := system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &headActor{h: h} }), HeadName)
	if err != nil {
		return nil, fmt.Errorf("cluster head: %w", err)
	}
	h.pid = pid
	h.unsub = src.Subscribe(func(ev membership.Event) { system.Root.Send(pid, ev) })
	system.Root.Send(pid, membership.Event{Members: src.Members()})
	return h, nil
}

// Epoch is this head's run id: every fence carries it.
func (h *Head) Epoch() string { return h.epoch }

// System is the actor system the head's actors live in.
func (h *Head) System() *actor.ActorSystem { return h.system }

// Table is the placement table (read-only use: tests and progress).
func (h *Head) Table() *placement.Table { return h.table }

// Stats returns the counters so far.
func (h *Head) Stats() Stats {
	return Stats{Placed: h.placed.Load(), NodeLost: h.nodeLost.Load(), LateDropped: h.late.Load(),
		GaveUp: h.gaveUp.Load(), WorkersLost: h.workersLost.Load(),
		LastReplaced: time.Duration(h.lastReplaced.Load())}
}

// Close stops the head's actor (the proxies belong to their runs).
func (h *Head) Close() {
	h.unsub()
	_ = h.system.Root.StopFuture(h.pid).Wait()
}

// Launcher returns the coordinator's Launch hook for a run of SimSWE tasks drawn from
// sims (engine.Cluster).
func (h *Head) Launcher(rt *actors.Runtime, ep actors.EpisodeConfig, sims []sim.Config) func(actors.EpisodeSpec) *actor.Props {
	if len(sims) == 0 {
		return h.LauncherFor(rt, ep, TaskWorld) // the workers' own task file
	}
	return h.LauncherFor(rt, ep, SimWorld(sims...))
}

// ShipPolicy makes the workers call the policy themselves: for each episode, policy
// returns what serves its version (an HTTP endpoint). Without it the workers ask the
// head, whose inference actor serves them. Call it before the run.
func (h *Head) ShipPolicy(policy func(version int) (*wire.Policy, error)) {
	h.mu.Lock()
	h.policy = policy
	h.mu.Unlock()
}

func (h *Head) shippedPolicy(version int) (*wire.Policy, error) {
	h.mu.Lock()
	f := h.policy
	h.mu.Unlock()
	if f == nil {
		return nil, nil
	}
	return f(version)
}

// LauncherFor returns the coordinator's Launch hook for one run: every episode becomes
// a proxy that places it on a worker, which rebuilds its task through world.
func (h *Head) LauncherFor(rt *actors.Runtime, ep actors.EpisodeConfig, world World) func(actors.EpisodeSpec) *actor.Props {
	return func(spec actors.EpisodeSpec) *actor.Props {
		return actor.PropsFromProducer(func() actor.Actor {
			return &proxyActor{h: h, rt: rt, ep: ep, world: world, spec: spec, key: keyOf(spec.Ref)}
		})
	}
}

func keyOf(r messages.EpisodeRef) placement.Key {
	return placement.Key(fmt.Sprintf("k%d/g%d/s%d", r.Iteration, r.Group, r.Sample))
}

func (h *Head) register(k placement.Key, pid *actor.PID) {
	h.mu.Lock()
	h.proxies[k] = pid
	h.mu.Unlock()
}

func (h *Head) unregister(k placement.Key, pid *actor.PID) {
	h.mu.Lock()
	if p := h.proxies[k]; p != nil && p.Equal(pid) {
		delete(h.proxies, k)
	}
	if p := h.waiting[k]; p != nil && p.Equal(pid) {
		delete(h.waiting, k)
	}
	h.mu.Unlock()
}

func (h *Head) unwait(k placement.Key, pid *actor.PID) {
	h.mu.Lock()
	if p := h.waiting[k]; p != nil && p.Equal(pid) {
		delete(h.waiting, k)
	}
	h.mu.Unlock()
}

func (h *Head) wait(k placement.Key, pid *actor.PID) {
	h.mu.Lock()
	h.waiting[k] = pid
	h.mu.Unlock()
}

// placedAgain notes that a lost episode found a new worker (for the re-placement time).
func (h *Head) placedAgain(from string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending[from]--
	if h.pending[from] <= 0 {
		if t, ok := h.lostAt[from]; ok {
			h.lastReplaced.Store(int64(time.Since(t)))
		}
		delete(h.pending, from)
		delete(h.lostAt, from)
	}
}

func (h *Head) fence(attempt int) *wire.Fence {
	return &wire.Fence{Head: h.epoch, Attempt: int64(attempt)}
}

// Messages to the proxies and the head actor.
type (
	tryPlace  struct{}
	nodeLost  struct{ member, cause string }
	leaseTick struct{}
)

// headActor keeps the member list, renews the workers' leases, takes their capacity
// announcements and tells proxies when their worker is lost.
type headActor struct {
	h     *Head
	timer *time.Timer
}

func (a *headActor) Receive(c actor.Context) {
	h := a.h
	switch m := c.Message().(type) {
	case *actor.Started:
		c.Send(c.Self(), leaseTick{})
	case leaseTick:
		a.renew(c)
		self := c.Self()
		a.timer = time.AfterFunc(h.cfg.LeaseTTL/5, func() { h.system.Root.Send(self, leaseTick{}) })
	case membership.Event:
		a.onMembers(c, m)
	case *wire.Announce:
		mem, ok := h.memberOf(m)
		if !ok {
			return // a worker the member list does not show (yet, or any more)
		}
		if !h.table.Has(mem.ID) {
			// Watch its agent: a dead process shows as Terminated within ~0.1 s,
			// well before the member list drops it.
			agent := h.cfg.AgentPID(mem)
			c.Watch(agent)
			h.mu.Lock()
			h.agents[agent.String()] = mem.ID
			h.mu.Unlock()
			h.cfg.Logger.Info("worker joined", "worker", mem.ID, "address", mem.Address, "slots", m.Slots)
		}
		if h.table.Announce(placement.Worker{ID: mem.ID, Address: mem.Address, Slots: int(m.Slots)}) {
			a.wake(c)
		}
	case *actor.Terminated:
		h.mu.Lock()
		id, ok := h.agents[m.Who.String()]
		delete(h.agents, m.Who.String())
		h.mu.Unlock()
		if ok {
			a.lost(c, id, "its endpoint terminated ("+m.Why.String()+")")
		}
	case *actor.Stopping:
		if a.timer != nil {
			a.timer.Stop()
		}
	}
}

// memberOf finds the announcing worker in the member list: by its id, or, for
// providers whose member ids are not the actor system's (etcd), by its address.
func (h *Head) memberOf(m *wire.Announce) (membership.Member, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if mem, ok := h.members[m.Member]; ok && mem.Role == membership.RoleWorker {
		return mem, true
	}
	for _, mem := range h.members {
		if mem.Role == membership.RoleWorker && mem.Address == m.Agent.GetAddress() {
			return mem, true
		}
	}
	return membership.Member{}, false
}

func (a *headActor) renew(c actor.Context) {
	h := a.h
	h.mu.Lock()
	ws := make([]membership.Member, 0, len(h.members))
	for _, m := range h.members {
		if m.Role == membership.RoleWorker {
			ws = append(ws, m)
		}
	}
	h.mu.Unlock()
	now := time.Now()
	for _, m := range ws {
		c.Send(h.cfg.AgentPID(m), &wire.Lease{Head: h.epoch, TtlNs: int64(h.cfg.LeaseTTL), HeadPid: wirePID(c.Self()),
			SentUnixNs: now.UnixNano()})
	}
}

func (a *headActor) onMembers(c actor.Context, ev membership.Event) {
	h := a.h
	h.mu.Lock()
	h.members = map[string]membership.Member{}
	for _, m := range ev.Members {
		h.members[m.ID] = m
	}
	h.mu.Unlock()
	for _, m := range ev.Left {
		a.lost(c, m.ID, "left the cluster's member list")
	}
	if len(ev.Joined) > 0 {
		a.renew(c) // ask the new ones for their capacity now
	}
}

// lost takes a worker out of the table and tells its episodes' proxies.
func (a *headActor) lost(c actor.Context, id, cause string) {
	a.h.loseWorker(c, id, cause)
}

// loseWorker takes a worker out of the table and tells the proxies of its episodes.
// It may be called from any actor of the head (a proxy whose worker gave its attempt
// back); the worker comes back into the table when it announces itself again.
func (h *Head) loseWorker(c actor.SenderContext, id, cause string) {
	if !h.table.Has(id) {
		return
	}
	lost := h.table.Leave(id)
	h.workersLost.Add(1)
	h.cfg.Logger.Warn("worker lost: placing its episodes again", "worker", id, "episodes", len(lost), "cause", cause)
	h.mu.Lock()
	h.lostAt[id] = time.Now()
	h.pending[id] = len(lost)
	var pids []*actor.PID
	for _, as := range lost {
		if p := h.proxies[as.Key]; p != nil {
			pids = append(pids, p)
		}
	}
	h.mu.Unlock()
	for _, p := range pids {
		c.Send(p, nodeLost{member: id, cause: cause})
	}
}

// wake asks every waiting proxy to try again.
func (a *headActor) wake(c actor.Context) {
	h := a.h
	h.mu.Lock()
	pids := make([]*actor.PID, 0, len(h.waiting))
	for k, p := range h.waiting {
		pids = append(pids, p)
		delete(h.waiting, k)
	}
	h.mu.Unlock()
	for _, p := range pids {
		c.Send(p, tryPlace{})
	}
}
