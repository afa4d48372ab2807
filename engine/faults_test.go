package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/actors/actorstest"
	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/messages"
)

// The fault-injection scenario of the engine-core issue: 64 tasks x G=10 x 3
// iterations with sandbox crashes (10% of episodes), episode-actor panics (5%),
// policy errors (5%), grader errors (5%), hung commands (5%), 30% of faults
// persistent, and one learner panic; run for 20 seeds, or for the first 3 under the
// race detector (which slows every seed about 10x): scripts/test.sh runs the suite both
// ways, so all 20 seeds run on every change and 3 of them with race checking.
const (
	faultSeeds     = 20
	faultSeedsRace = 3
	faultTasks     = 64
	faultG         = 10
	faultIters     = 3
)

// abandonKind is the failure each persistent fault must be reported as.
var abandonKind = map[actorstest.FaultKind]messages.FailureKind{
	actorstest.SandboxCrash: messages.FailSandboxDied,
	actorstest.EpisodePanic: messages.FailCrashed,
	actorstest.PolicyError:  messages.FailGenerate,
	actorstest.GraderError:  messages.FailGrade,
}

type faultWorld struct {
	plan    actorstest.FaultPlan
	sb      *actorstest.FakeSandboxes
	pol     *actorstest.FakePolicy
	grader  *actorstest.FakeGrader
	trainer *actorstest.FakeTrainer
	cfg     engine.Config
}

func newFaultWorld(t *testing.T, seed uint64) *faultWorld {
	plan := actorstest.FaultPlan{Seed: seed, SandboxCrash: 0.10, EpisodePanic: 0.05, PolicyError: 0.05,
		GraderError: 0.05, Hung: 0.05, Persistent: 0.3, MaxTurn: 3}
	w := &faultWorld{plan: plan}
	w.sb = &actorstest.FakeSandboxes{PerSandbox: plan.Sandboxes(actorstest.SandboxKnobs{
		StartLatency: 2 * time.Second, Latency: 50 * time.Millisecond})}
	w.pol = &actorstest.FakePolicy{
		PerCall: plan.Policy(actorstest.PolicyKnobs{Latency: 200 * time.Millisecond}),
		Script:  actorstest.Script{Seed: seed, MinCommands: 3, MaxCommands: 8, FormatErrorRate: 0.05},
	}
	w.grader = &actorstest.FakeGrader{PerCall: plan.Grader(actorstest.GraderKnobs{Latency: 3 * time.Second})}
	w.trainer = actorstest.NewFakeTrainer(0)
	w.trainer.PanicAt = map[int]int{1: 1} // the learner panics once, on iteration 1's batch

	cfg := engine.DefaultConfig()
	cfg.Iterations, cfg.TasksPerIteration, cfg.GroupSize, cfg.Seed = faultIters, faultTasks, faultG, seed
	cfg.Tasks = tasks(100)
	cfg.Policy, cfg.Trainer, cfg.Sandboxes, cfg.Grader = w.pol, w.trainer, w.sb, w.grader
	cfg.Episode.TurnCap = 30
	cfg.Episode.CommandTimeout = 30 * time.Second
	cfg.Episode.TurnTimeout = 2 * time.Minute
	cfg.Episode.EpisodeTimeout = time.Hour
	cfg.Episode.RetryBudget = 3
	cfg.EpisodeMiddleware = append(cfg.EpisodeMiddleware, plan.Middleware())
	cfg.Logger = actorstest.TestLogger(t, hclog.Error)
	w.cfg = cfg
	return w
}

func TestFaultInjection(t *testing.T) {
	seeds := uint64(faultSeeds)
	if raceDetector {
		seeds = faultSeedsRace
		t.Logf("race detector on: seeds 1-%d of %d (the plain run covers all)", seeds, faultSeeds)
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				before := goleak.IgnoreCurrent()
				w := newFaultWorld(t, seed)
				res, err := engine.Run(context.Background(), w.cfg)
				if err != nil {
					t.Fatalf("seed %d: Run: %v", seed, err)
				}
				w.check(t, seed, res)
				if err := goleak.Find(before); err != nil {
					t.Errorf("seed %d: goroutines left after Run returned: %v", seed, err)
				}
			})
		})
	}
}

func (w *faultWorld) check(t *testing.T, seed uint64, res engine.Result) {
	t.Helper()
	if len(res.Iterations) != faultIters {
		t.Fatalf("seed %d: %d iteration reports, want %d", seed, len(res.Iterations), faultIters)
	}
	injected := map[actorstest.FaultKind]int{}
	for k, it := range res.Iterations {
		if it.Iteration != k || it.PolicyVersion != k {
			t.Errorf("seed %d: report %d is iteration %d version %d", seed, k, it.Iteration, it.PolicyVersion)
		}
		if it.Requested != faultTasks*faultG || len(it.Records) != it.Requested {
			t.Fatalf("seed %d iteration %d: %d records for %d requested, want %d", seed, k, len(it.Records), it.Requested, faultTasks*faultG)
		}
		seen := map[messages.EpisodeKey]bool{}
		wantAbandoned, abandoned := 0, 0
		for i, r := range it.Records {
			want := messages.EpisodeKey{Iteration: k, Group: i / faultG, Sample: i % faultG}
			if r.Ref.Key() != want || r.Status == "" {
				t.Fatalf("seed %d: record %d is %v (%q), want %v: missing or misplaced", seed, i, r.Ref, r.Status, want)
			}
			if seen[r.Ref.Key()] {
				t.Fatalf("seed %d: record for %v doubled", seed, r.Ref)
			}
			seen[r.Ref.Key()] = true
			f := w.plan.For(r.Ref)
			injected[f.Kind]++
			doomed := w.plan.Unrecoverable(r.Ref)
			if doomed {
				wantAbandoned++
			}
			switch r.Status {
			case messages.Abandoned:
				abandoned++
				if !doomed {
					t.Errorf("seed %d: %v abandoned (%s) but its fault %+v was recoverable", seed, r.Ref, r.Failure.Error(), f)
				}
				if want := abandonKind[f.Kind]; r.Failure.Kind != want {
					t.Errorf("seed %d: %v abandoned with %q (%s), its injected fault %v should give %q", seed, r.Ref, r.Failure.Kind, r.Failure.Cause, f.Kind, want)
				}
				if r.Reward != 0 || r.Advantage != 0 {
					t.Errorf("seed %d: abandoned %v carries reward %v / advantage %v", seed, r.Ref, r.Reward, r.Advantage)
				}
			case messages.Finished:
				if doomed {
					t.Errorf("seed %d: %v finished (%s) despite persistent fault %+v", seed, r.Ref, r.Stop, f)
				}
				if r.Ref.PolicyVersion != k {
					t.Errorf("seed %d: %v of iteration %d sampled version %d", seed, r.Ref, k, r.Ref.PolicyVersion)
				}
				for _, turn := range r.Transcript.Turns() {
					if turn.PolicyVersion != k {
						t.Errorf("seed %d: %v turn %d sampled from policy version %d in iteration %d", seed, r.Ref, turn.Index, turn.PolicyVersion, k)
					}
				}
				if f.Kind == actorstest.HungExec {
					checkHung(t, seed, r, w.cfg.Episode.CommandTimeout)
				}
				if f.Kind != actorstest.NoFault && f.Kind != actorstest.HungExec && r.Retries+r.Restarts == 0 {
					t.Errorf("seed %d: %v had fault %v but no retry or restart recorded", seed, r.Ref, f.Kind)
				}
			}
		}
		if abandoned != wantAbandoned || it.Abandoned != wantAbandoned {
			t.Errorf("seed %d iteration %d: abandoned %d (report %d), injected unrecoverable faults %d", seed, k, abandoned, it.Abandoned, wantAbandoned)
		}
		if it.Duplicates != 0 {
			t.Errorf("seed %d iteration %d: %d duplicate terminal records", seed, k, it.Duplicates)
		}
		checkBatch(t, seed, it)
	}
	for _, kind := range []actorstest.FaultKind{actorstest.SandboxCrash, actorstest.EpisodePanic, actorstest.PolicyError, actorstest.GraderError, actorstest.HungExec} {
		if injected[kind] == 0 {
			t.Errorf("seed %d: the plan injected no %v fault; the scenario is not exercising it", seed, kind)
		}
	}
	trained := w.trainer.Trained()
	for k := 0; k < faultIters; k++ {
		if trained[k] != 1 {
			t.Errorf("seed %d: the learner trained version %d %d times, want exactly once", seed, k, trained[k])
		}
	}
	if w.trainer.Panics() != 1 {
		t.Errorf("seed %d: %d learner panics fired, want 1", seed, w.trainer.Panics())
	}
	if w.sb.Live() != 0 || w.sb.Started() != w.sb.Closed() || w.sb.DoubleClosed() != 0 {
		t.Errorf("seed %d: sandboxes started %d closed %d live %d double-closed %d", seed, w.sb.Started(), w.sb.Closed(), w.sb.Live(), w.sb.DoubleClosed())
	}
}

// checkHung asserts that the hung command hit its deadline and the episode went on.
func checkHung(t *testing.T, seed uint64, r messages.EpisodeRecord, deadline time.Duration) {
	t.Helper()
	for _, turn := range r.Transcript.Turns() {
		if turn.TimedOut {
			if turn.ExecTime < deadline || turn.ExecTime > deadline+time.Second {
				t.Errorf("seed %d: %v hung command took %s, deadline %s", seed, r.Ref, turn.ExecTime, deadline)
			}
			if !strings.Contains(turn.Observation, "timed out") {
				t.Errorf("seed %d: %v timed-out observation %q does not say so", seed, r.Ref, turn.Observation)
			}
			return
		}
	}
	t.Errorf("seed %d: %v had a hung command but no timed-out turn", seed, r.Ref)
}

// checkBatch asserts the group filter: groups with an abandoned episode are out, the
// batch holds exactly the non-zero-advantage samples of mixed groups.
func checkBatch(t *testing.T, seed uint64, it actors.IterationReport) {
	t.Helper()
	groups := it.Requested / faultG
	kept, abandonedGroups, zero := 0, 0, 0
	for g := 0; g < groups; g++ {
		recs := it.Records[g*faultG : (g+1)*faultG]
		hasAbandoned, mixed := false, false
		for _, r := range recs {
			if r.Status == messages.Abandoned {
				hasAbandoned = true
			}
			if r.Reward != recs[0].Reward {
				mixed = true
			}
		}
		switch {
		case hasAbandoned:
			abandonedGroups++
		case !mixed:
			zero++
		default:
			kept++
		}
	}
	if it.GroupsKept != kept || it.GroupsDroppedAbandoned != abandonedGroups || it.GroupsDroppedZeroAdvantage != zero {
		t.Errorf("seed %d iteration %d: groups kept/abandoned/zero = %d/%d/%d, want %d/%d/%d", seed, it.Iteration,
			it.GroupsKept, it.GroupsDroppedAbandoned, it.GroupsDroppedZeroAdvantage, kept, abandonedGroups, zero)
	}
	if it.GroupsKept+it.GroupsDroppedAbandoned+it.GroupsDroppedZeroAdvantage != groups {
		t.Errorf("seed %d iteration %d: group counts do not add up to %d", seed, it.Iteration, groups)
	}
}

// fingerprint is what must not depend on scheduling: who finished how, with what reward.
func fingerprint(res engine.Result) []string {
	var out []string
	for _, r := range res.Records() {
		out = append(out, fmt.Sprintf("%v %s %s %s turns=%d resolved=%v final=%.4f adv=%.4f attempts=%d retries=%d restarts=%d",
			r.Ref.Key(), r.Status, r.Stop, r.Failure.Kind, r.Turns(), r.Resolved, r.Final, r.Advantage, r.Attempts, r.Retries, r.Restarts))
	}
	return out
}

// The same seed gives the same run, record for record.
func TestFaultInjectionIsDeterministic(t *testing.T) {
	const seed = 5
	var runs [2][]string
	for i := range runs {
		synctest.Test(t, func(t *testing.T) {
			w := newFaultWorld(t, seed)
			res, err := engine.Run(context.Background(), w.cfg)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			runs[i] = fingerprint(res)
		})
	}
	if len(runs[0]) != len(runs[1]) {
		t.Fatalf("seed %d: %d vs %d records", seed, len(runs[0]), len(runs[1]))
	}
	for i := range runs[0] {
		if runs[0][i] != runs[1][i] {
			t.Fatalf("seed %d: runs differ at record %d:\n  %s\n  %s", seed, i, runs[0][i], runs[1][i])
		}
	}
}
