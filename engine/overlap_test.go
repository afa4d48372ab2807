package engine_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/actors/actorstest"
	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/sandbox"
)

// clock records, in a synctest bubble's fake time, when each iteration's sandboxes
// began to start, when its turns were generated (and for which policy version), and
// when each version's training ended.
type clock struct {
	mu         sync.Mutex
	startBegan map[int][]time.Time // iteration -> sandbox Start calls
	generated  map[int][]time.Time // iteration -> Generate calls
	offPolicy  int                 // calls whose served version was not the episode's
	trainEnd   map[int]time.Time   // version trained -> when Train returned
}

func newClock() *clock {
	return &clock{startBegan: map[int][]time.Time{}, generated: map[int][]time.Time{}, trainEnd: map[int]time.Time{}}
}

type clockedSandboxes struct {
	c    *clock
	next sandbox.Factory
}

func (f clockedSandboxes) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Sandbox, error) {
	f.c.mu.Lock()
	f.c.startBegan[spec.Ref.Iteration] = append(f.c.startBegan[spec.Ref.Iteration], time.Now())
	f.c.mu.Unlock()
	return f.next.Start(ctx, spec)
}

type clockedPolicy struct {
	c    *clock
	next policy.Policy
}

func (p clockedPolicy) Generate(ctx context.Context, r policy.Request) (policy.Reply, error) {
	p.c.mu.Lock()
	p.c.generated[r.Ref.Iteration] = append(p.c.generated[r.Ref.Iteration], time.Now())
	if r.Version != r.Ref.PolicyVersion {
		p.c.offPolicy++
	}
	p.c.mu.Unlock()
	return p.next.Generate(ctx, r)
}

type clockedTrainer struct {
	c *clock
	*actorstest.FakeTrainer
}

func (t clockedTrainer) Train(ctx context.Context, b messages.TrainBatch) (messages.TrainStats, error) {
	st, err := t.FakeTrainer.Train(ctx, b)
	t.c.mu.Lock()
	t.c.trainEnd[b.PolicyVersion] = time.Now()
	t.c.mu.Unlock()
	return st, err
}

const (
	overlapStart = 30 * time.Second // sandbox start
	overlapTrain = 60 * time.Second // learner time per iteration
)

func overlapWorld(c *clock, noOverlap bool) (engine.Config, *actorstest.FakeSandboxes) {
	sb := &actorstest.FakeSandboxes{Knobs: actorstest.SandboxKnobs{StartLatency: overlapStart, Latency: time.Second}}
	pol := &actorstest.FakePolicy{Knobs: actorstest.PolicyKnobs{Latency: 2 * time.Second},
		Script: actorstest.Script{Seed: 3, MinCommands: 2, MaxCommands: 5}}
	tr := actorstest.NewFakeTrainer(0)
	tr.Latency = overlapTrain
	cfg := engine.DefaultConfig()
	cfg.Iterations, cfg.TasksPerIteration, cfg.GroupSize = 3, 6, 4
	cfg.Tasks = tasks(20)
	cfg.Policy, cfg.Trainer = clockedPolicy{c: c, next: pol}, clockedTrainer{c: c, FakeTrainer: tr}
	cfg.Sandboxes, cfg.Grader = clockedSandboxes{c: c, next: sb}, &actorstest.FakeGrader{Knobs: actorstest.GraderKnobs{Latency: 5 * time.Second}}
	cfg.NoOverlap = noOverlap
	cfg.LearnerResend = 10 * time.Minute // no resend while the 60 s update runs
	return cfg, sb
}

// With overlap on, the sandboxes of iteration k+1 start while the learner trains k,
// yet no turn of k+1 is generated before version k+1 is trained and loaded, and each
// later iteration's rollout is shorter by the start time hidden under training. With
// overlap off, nothing of k+1 starts before its version is trained.
func TestOverlapPreparesSandboxesButStaysOnPolicy(t *testing.T) {
	rollouts := map[bool][]time.Duration{}
	for _, noOverlap := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			c := newClock()
			cfg, sb := overlapWorld(c, noOverlap)
			res, err := engine.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if c.offPolicy != 0 {
				t.Errorf("noOverlap=%v: %d generate calls served another version than their episode's", noOverlap, c.offPolicy)
			}
			for k := 1; k < cfg.Iterations; k++ {
				trained := c.trainEnd[k-1]
				if trained.IsZero() {
					t.Fatalf("version %d was never trained", k-1)
				}
				for _, g := range c.generated[k] {
					if g.Before(trained) {
						t.Errorf("noOverlap=%v: iteration %d generated at %v, before version %d was trained at %v",
							noOverlap, k, g, k-1, trained)
					}
				}
				early := 0
				for _, s := range c.startBegan[k] {
					if s.Before(trained) {
						early++
					}
				}
				want := len(res.Iterations[k].Records) // every first attempt prepared
				if noOverlap {
					want = 0
				}
				if early != want {
					t.Errorf("noOverlap=%v: %d sandboxes of iteration %d began before training ended, want %d", noOverlap, early, k, want)
				}
			}
			for _, it := range res.Iterations {
				if it.Finished != it.Requested || it.Stale != 0 {
					t.Errorf("noOverlap=%v iteration %d: %d of %d finished, %d stale", noOverlap, it.Iteration, it.Finished, it.Requested, it.Stale)
				}
				rollouts[noOverlap] = append(rollouts[noOverlap], it.Rollout)
			}
			if sb.Live() != 0 || sb.DoubleClosed() != 0 || sb.Started() != sb.Closed() {
				t.Errorf("noOverlap=%v: sandboxes started %d, closed %d, live %d, closed twice %d",
					noOverlap, sb.Started(), sb.Closed(), sb.Live(), sb.DoubleClosed())
			}
		})
	}
	on, off := rollouts[false], rollouts[true]
	if len(on) != 3 || len(off) != 3 {
		t.Fatalf("rollouts: on %v, off %v", on, off)
	}
	if on[0] != off[0] {
		t.Errorf("iteration 0 has nothing to overlap with, yet its rollout took %v with overlap and %v without", on[0], off[0])
	}
	for k := 1; k < 3; k++ {
		if saved := off[k] - on[k]; saved != overlapStart {
			t.Errorf("iteration %d: rollout %v with overlap, %v without: saved %v, want the sandbox start %v", k, on[k], off[k], saved, overlapStart)
		}
	}
}

// A run cancelled while the learner trains (and the next iteration's sandboxes are
// starting) closes every prepared sandbox before Run returns.
func TestOverlapCancelledClosesPreparedSandboxes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClock()
		cfg, sb := overlapWorld(c, false)
		ctx, cancel := context.WithCancel(context.Background())
		cfg.OnIteration = nil
		var once sync.Once
		cfg.OnRecord = func(messages.EpisodeRecord) {}
		go func() {
			// Cancel 10 s into the first training: the prepared starts are half done.
			for range 3600 {
				time.Sleep(time.Second)
				c.mu.Lock()
				n := len(c.startBegan[1])
				c.mu.Unlock()
				if n > 0 {
					time.Sleep(10 * time.Second)
					once.Do(cancel)
					return
				}
			}
		}()
		res, err := engine.Run(ctx, cfg)
		if err == nil {
			t.Fatalf("Run: no error after cancel (%d iterations)", len(res.Iterations))
		}
		synctest.Wait()
		if sb.Live() != 0 || sb.Started() != sb.Closed() {
			t.Errorf("after cancel: sandboxes started %d, closed %d, live %d", sb.Started(), sb.Closed(), sb.Live())
		}
	})
}

// The generation order is validated.
func TestGenerationOrderValidated(t *testing.T) {
	cfg := engine.DefaultConfig()
	cfg.Tasks = tasks(8)
	cfg.Policy, cfg.Trainer = &actorstest.FakePolicy{}, actorstest.NewFakeTrainer(0)
	cfg.Sandboxes, cfg.Grader = &actorstest.FakeSandboxes{}, &actorstest.FakeGrader{}
	cfg.GenerationOrder = "random"
	if err := cfg.Validate(); err == nil {
		t.Fatal("generation order \"random\" accepted")
	}
	for _, o := range []actors.GenerationOrder{actors.OrderFIFO, actors.OrderMostTurnsLeft} {
		cfg.GenerationOrder = o
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", o, err)
		}
	}
}
