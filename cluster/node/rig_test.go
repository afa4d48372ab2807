package node_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/protobuf/proto"

	"github.com/swerl/swerl/actors/actorstest"
	"github.com/swerl/swerl/cluster/membership"
	"github.com/swerl/swerl/cluster/node"
	"github.com/swerl/swerl/cluster/wire"
	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/internal/logging"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sim"
)

// The tests run a head and several workers in one process and one actor system (no
// remote), inside a synctest bubble: time is virtual, so lease expiries and sandbox
// latencies take no wall time and their bounds are exact whatever the machine's load,
// and the bubble fails the test if any goroutine outlives it.
//
// The member list is fake (a membership.List fed by hand): worker X is the member
// {ID: X, Role: worker} whose agent is the actor named "swerl-worker-X".

const (
	leaseTTL   = time.Second
	checkEvery = 100 * time.Millisecond
	// latency is added to every sandbox start and command: an episode of the expert
	// takes a few virtual seconds, so there is always work in flight to lose.
	latency = 200 * time.Millisecond
	// throttle is the actor system's dead-letter log interval, waited out at the end
	// so that its goroutine is gone before the bubble ends.
	throttle = 100 * time.Millisecond
)

type rig struct {
	t       *testing.T
	sys     *actor.ActorSystem
	list    *membership.List
	head    *node.Head
	world   sim.Config
	workers map[string]*node.Worker
	worlds  map[string]*node.SimWorlds
	runs    []*run
	closed  bool
}

// run is a run started in the background.
type run struct {
	cancel context.CancelFunc
	ended  chan struct{}
}

// newRig starts the actor system and the head, with an empty member list.
func newRig(t *testing.T) *rig {
	t.Helper()
	log := actorstest.TestLogger(t, hclog.Warn)
	sys := actor.NewActorSystem(
		actor.WithDeadLetterThrottleInterval(throttle),
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return slog.New(logging.SlogHandler(log, slog.LevelError))
		}))
	r := &rig{t: t, sys: sys, list: membership.NewList(), workers: map[string]*node.Worker{},
		worlds: map[string]*node.SimWorlds{}}
	r.world = sim.Easy()
	r.world.Seed = 7
	h, err := node.NewHead(sys, r.list, node.HeadConfig{
		LeaseTTL: leaseTTL,
		AgentPID: func(m membership.Member) *actor.PID { return actor.NewPID(sys.Address(), agentName(m.ID)) },
		Logger:   actorstest.TestLogger(t, hclog.Warn).Named("head"),
	})
	if err != nil {
		t.Fatal(err)
	}
	r.head = h
	return r
}

func agentName(id string) string { return node.AgentName + "-" + id }

func (r *rig) member(id string) membership.Member {
	return membership.Member{ID: id, Address: r.sys.Address(), Role: membership.RoleWorker}
}

// startWorker starts worker id with slots, its agent named agentName(id) (or name,
// when the test puts something in front of it).
func (r *rig) startWorker(id string, slots int, name string) *node.Worker {
	r.t.Helper()
	if name == "" {
		name = agentName(id)
	}
	worlds := &node.SimWorlds{Latency: latency}
	w, err := node.StartWorker(r.sys, node.WorkerConfig{Name: name, MemberID: id, Slots: slots, CheckEvery: checkEvery,
		Worlds: worlds, Logger: actorstest.TestLogger(r.t, hclog.Warn).Named("worker-" + id)})
	if err != nil {
		r.t.Fatal(err)
	}
	r.workers[id], r.worlds[id] = w, worlds
	return w
}

// show makes the member list the head and the given workers, and lets the head act
// on it (leases out, capacity in, lost episodes placed again) before it returns.
func (r *rig) show(ids ...string) {
	ms := []membership.Member{{ID: "head", Address: r.sys.Address(), Role: membership.RoleHead}}
	for _, id := range ids {
		ms = append(ms, r.member(id))
	}
	r.list.Update(ms)
	synctest.Wait()
}

// config is a run of tasks x group episodes of the expert on SimSWE, on the cluster.
func (r *rig) config(tasks, group int) engine.Config {
	ts := sim.Generate(r.world, tasks)
	cfg := engine.DefaultConfig()
	cfg.Iterations, cfg.TasksPerIteration, cfg.GroupSize = 1, tasks, group
	for _, t := range ts {
		cfg.Tasks = append(cfg.Tasks, t.TaskRef())
	}
	cfg.Policy, cfg.Trainer = sim.Expert{}, actorstest.NewFakeTrainer(0)
	// The head validates a whole config; with a cluster the workers build their own.
	cfg.Sandboxes, cfg.Grader = sim.NewFactory(ts), sim.NewGrader(ts)
	cfg.Episode.TurnCap = 20
	cfg.Cluster, cfg.ClusterSims = r.head, []sim.Config{r.world}
	cfg.Logger = actorstest.TestLogger(r.t, hclog.Warn).Named("run")
	return cfg
}

type runResult struct {
	res engine.Result
	err error
}

// start runs cfg in the background (cancelled by close, if a failed test left it
// running).
func (r *rig) start(ctx context.Context, cfg engine.Config) <-chan runResult {
	ctx, cancel := context.WithCancel(ctx)
	bg := &run{cancel: cancel, ended: make(chan struct{})}
	r.runs = append(r.runs, bg)
	done := make(chan runResult, 1)
	go func() {
		defer close(bg.ended)
		res, err := engine.Run(ctx, cfg)
		done <- runResult{res, err}
	}()
	return done
}

// close ends the runs, stops the head and the workers, then the actor system.
func (r *rig) close() {
	if r.closed {
		return
	}
	r.closed = true
	for _, bg := range r.runs {
		bg.cancel()
		select {
		case <-bg.ended:
		case <-time.After(runLimit):
			r.t.Error("a run did not end when cancelled")
		}
	}
	r.head.Close()
	for _, w := range r.workers {
		w.Stop()
	}
	r.sys.Shutdown()
	time.Sleep(2 * throttle)
}

// bubble runs f in a synctest bubble with a fresh rig, closed at the end.
func bubble(t *testing.T, f func(t *testing.T, r *rig)) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		defer r.close()
		f(t, r)
	})
}

// waitFor polls cond in virtual time (each poll lets every actor run until it
// blocks) and fails the test if it does not hold within limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v (virtual) waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wait returns the run's outcome, failing the test if it does not end within limit
// (virtual time).
func wait(t *testing.T, done <-chan runResult, limit time.Duration) engine.Result {
	t.Helper()
	select {
	case rr := <-done:
		if rr.err != nil {
			t.Fatalf("run: %v", rr.err)
		}
		return rr.res
	case <-time.After(limit):
		t.Fatalf("the run did not end within %v (virtual)", limit)
	}
	return engine.Result{}
}

// checkOneRecordEach asserts the run's single iteration has exactly one record per
// requested episode, none doubled, and that every episode finished (the expert on easy
// tasks finishes every one unless the cluster loses it for good).
func checkOneRecordEach(t *testing.T, res engine.Result, requested int) {
	t.Helper()
	if len(res.Iterations) != 1 {
		t.Fatalf("iterations = %d, want 1", len(res.Iterations))
	}
	it := res.Iterations[0]
	if it.Requested != requested || len(it.Records) != requested {
		t.Fatalf("requested %d, records %d; want %d each", it.Requested, len(it.Records), requested)
	}
	if it.Duplicates != 0 {
		t.Errorf("duplicates = %d, want 0", it.Duplicates)
	}
	seen := map[messages.EpisodeKey]bool{}
	for i, rec := range it.Records {
		k := rec.Ref.Key()
		if rec.Ref.TaskID == "" || seen[k] {
			t.Errorf("record %d: ref %+v empty or seen twice", i, rec.Ref)
		}
		seen[k] = true
		if rec.Status != messages.Finished {
			t.Errorf("record %d (%+v): %s, %v; want finished", i, rec.Ref, rec.Status, rec.Failure)
		}
	}
	if it.Finished != requested || it.Abandoned != 0 {
		t.Errorf("finished %d, abandoned %d (%v); want %d finished", it.Finished, it.Abandoned, it.AbandonedBy, requested)
	}
}

// waitIdle waits until no worker runs an episode or holds a sandbox open.
func (r *rig) waitIdle(t *testing.T) {
	t.Helper()
	waitFor(t, time.Minute, "workers idle, their sandboxes removed", func() bool {
		for _, id := range r.ids() {
			if r.workers[id].Running() != 0 || r.worlds[id].OpenSandboxes() != 0 {
				return false
			}
		}
		return true
	})
}

func (r *rig) ids() []string {
	return slices.Sorted(maps.Keys(r.workers))
}

// checkDrained asserts that no placement is left in the head's table.
func checkDrained(t *testing.T, h *node.Head) {
	t.Helper()
	for _, l := range h.Table().Loads() {
		if l.InFlight != 0 {
			t.Errorf("worker %s still has %d placements in the head's table", l.ID, l.InFlight)
		}
	}
}

// partition stands between the head and a worker's agent, in the actor named
// agentName(id): it passes the head's messages on to the agent and routes the
// worker's replies to the proxies through itself, so that a test can cut the head's
// side off (leases, starts and cancels dropped) and hold the worker's records back,
// then deliver them late.
type partition struct {
	agent *actor.PID

	mu         sync.Mutex
	cut        bool // drop every message of the head
	dropCancel bool // drop the head's cancels only
	dropStart  bool // drop the head's episodes only (a worker that takes work and never answers)
	hold       bool
	dropped    int // episodes dropped
	held       []*wire.EpisodeDone
	heldFor    map[string]bool // episode keys with a held record
	proxies    map[string]*actor.PID
}

type release struct{}

func newPartition(r *rig, id string, agent *actor.PID) *partition {
	p := &partition{agent: agent, heldFor: map[string]bool{}, proxies: map[string]*actor.PID{}}
	if _, err := r.sys.Root.SpawnNamed(actor.PropsFromFunc(p.receive), agentName(id)); err != nil {
		r.t.Fatal(err)
	}
	return p
}

func refKey(r *wire.EpisodeRef) string {
	return fmt.Sprintf("%d/%d/%d", r.GetIteration(), r.GetGroup(), r.GetSample())
}

// refOf finds the ref of the held record of episode key.
func (p *partition) refOf(key string) messages.EpisodeRef {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.held {
		if refKey(m.Record.GetRef()) == key {
			return m.Record.GetRef().Msg()
		}
	}
	return messages.EpisodeRef{}
}

func (p *partition) receive(c actor.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch m := c.Message().(type) {
	case *wire.Lease:
		if !p.cut {
			c.Send(p.agent, m)
		}
	case *wire.CancelEpisode:
		if !p.cut && !p.dropCancel {
			c.Send(p.agent, m)
		}
	case *wire.StartEpisode:
		if p.cut || p.dropStart {
			p.dropped++
			return
		}
		p.proxies[refKey(m.Ref)] = actor.NewPID(m.Proxy.GetAddress(), m.Proxy.GetId())
		start := proto.Clone(m).(*wire.StartEpisode)
		start.Proxy = &wire.PID{Address: c.Self().Address, Id: c.Self().Id}
		c.Send(p.agent, start)
	case *wire.GenerateRequest:
		c.Send(p.proxies[refKey(m.Ref)], m)
	case *wire.EpisodeDone:
		if p.hold {
			p.held = append(p.held, m)
			p.heldFor[refKey(m.Record.GetRef())] = true
			return
		}
		c.Send(p.proxies[refKey(m.Record.GetRef())], m)
	case release:
		for _, m := range p.held {
			c.Send(p.proxies[refKey(m.Record.GetRef())], m)
		}
		p.held = nil
	}
}

func (p *partition) set(f func(p *partition)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

// heldEpisodes returns the keys of the episodes whose records are held, and how many
// copies (the worker resends until acknowledged).
func (p *partition) heldEpisodes() (keys []string, copies int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.heldFor {
		keys = append(keys, k)
	}
	return keys, len(p.held)
}

func (p *partition) proxy(key string) *actor.PID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proxies[key]
}
