package actors

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy/dapo"
	"github.com/swerl/swerl/sandbox"
)

// CoordinatorConfig is one run: Iterations iterations of TasksPerIteration tasks x
// GroupSize rollouts each.
type CoordinatorConfig struct {
	Iterations        int
	TasksPerIteration int
	GroupSize         int
	Seed              uint64
	Tasks             []messages.TaskRef
	StartVersion      int // policy version of iteration 0 (non-zero when resuming)

	Filter    dapo.GroupFilter
	Advantage dapo.AdvantageConfig

	// MaxConcurrentEpisodes caps live episodes; 0 spawns all N x G at once.
	MaxConcurrentEpisodes int
	// LearnerResend is how long to wait for PolicyUpdated before resending the batch.
	LearnerResend time.Duration
	// Overlap starts the sandboxes of iteration k+1's episodes while the learner
	// trains k (see preparer). Ignored when Launch is set: a cluster's workers start
	// their own sandboxes.
	Overlap bool

	Episode            EpisodeConfig
	EpisodeSupervision Supervision
	// EpisodeMiddleware wraps every episode actor's Receive (tracing, fault injection).
	EpisodeMiddleware []actor.ReceiverMiddleware
	// Launch, when set, makes the props of each episode in place of the local episode
	// actor: the cluster head's proxies, which run the episode on a worker. What it
	// spawns must keep the episode's contract: exactly one EpisodeRecord to the
	// coordinator, then wait to be stopped.
	Launch func(spec EpisodeSpec) *actor.Props
}

// IterationReport is what one iteration did. Records holds every terminal record, in
// request order (group-major), with advantages set on those that went into the batch.
type IterationReport struct {
	Iteration     int
	PolicyVersion int
	Requested     int
	Records       []messages.EpisodeRecord

	Finished, Abandoned, Resolved int
	AbandonedBy                   map[messages.FailureKind]int

	GroupsKept                  int
	GroupsDroppedAbandoned      int
	GroupsDroppedZeroAdvantage  int
	SamplesDroppedZeroAdvantage int
	BatchSize                   int

	Stale      int // replies and records dropped because they belonged elsewhere
	Duplicates int // terminal records received twice (dropped)
	Train      messages.TrainStats
	Rollout    time.Duration // spawning to the last terminal record
	Training   time.Duration // TrainBatch to PolicyLoaded
	Cancelled  bool
}

// Reporter receives the coordinator's output. Its methods are called from the
// coordinator's Receive and must not block. Done may be called more than once (a
// supervisor stopping a core actor also reports); the first call is the outcome.
type Reporter interface {
	Record(messages.EpisodeRecord)
	Iteration(IterationReport)
	Done(err error)
}

// Shutdown asks the coordinator to stop taking work: in-flight episodes are stopped
// and recorded as abandoned (cancelled), finished records are kept, and Done reports
// context.Canceled.
type Shutdown struct{}

type stage int

const (
	stageRollout stage = iota
	stageTraining
	stageLoading
	stageDone
)

// runState is the coordinator's durable state: it outlives a supervisor restart of
// the coordinator, which then resumes the iteration where it was.
type runState struct {
	iteration  int
	stage      stage
	refs       []messages.EpisodeRef
	tasks      []messages.TaskRef
	records    []messages.EpisodeRecord
	recorded   []bool
	nRecorded  int
	report     IterationReport
	batch      messages.TrainBatch
	began      time.Time
	trainBegan time.Time
	cancelling bool
	done       bool
}

type (
	reap         struct{ iteration, index int }
	resendBatch  struct{ version int }
	startEpisode struct{ iteration int }
)

type coordinatorActor struct {
	rt        *Runtime
	cfg       CoordinatorConfig
	learner   *actor.PID
	inference *actor.PID
	graders   *actor.PID
	sandboxes sandbox.Factory
	report    Reporter
	st        *runState
	prep      *preparer // nil without overlap

	self       *actor.PID
	restarting bool
	live       map[string]int // episode PID id -> index, this incarnation
	pidOf      map[int]*actor.PID
	next       int // next index to spawn
	resend     *Timer
}

func newCoordinatorProps(rt *Runtime, cfg CoordinatorConfig, learner, inference, graders *actor.PID,
	sandboxes sandbox.Factory, report Reporter) *actor.Props {
	st := &runState{}
	var prep *preparer
	if cfg.Overlap && cfg.Launch == nil {
		prep = newPreparer(rt, sandboxes, cfg.Episode.Sandbox)
		sandboxes = prep
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &coordinatorActor{rt: rt, cfg: cfg, learner: learner, inference: inference, graders: graders,
			sandboxes: sandboxes, report: report, st: st, prep: prep}
	}, actor.WithSupervisor(cfg.EpisodeSupervision.strategy(rt, cfg.Seed)))
}

func (a *coordinatorActor) Receive(c actor.Context) {
	if a.st.done {
		return
	}
	switch m := c.Message().(type) {
	case *actor.Started:
		a.self = c.Self()
		a.live, a.pidOf = map[string]int{}, map[int]*actor.PID{}
		a.resume(c)
	case startEpisode:
		if m.iteration == a.st.iteration && a.st.stage == stageRollout {
			a.fill(c)
		}
	case messages.EpisodeRecord:
		a.onRecord(c, m)
	case *actor.Terminated:
		if a.restarting {
			return // children stopped by our own restart; the next incarnation respawns them
		}
		a.onTerminated(c, m.Who)
	case reap:
		a.onReap(c, m)
	case messages.PolicyUpdated:
		a.onPolicyUpdated(c, m)
	case messages.TrainFailed:
		if a.st.stage == stageTraining && m.Version == a.version() {
			a.fail(fmt.Errorf("learner failed on iteration %d: %s", m.Iteration, m.Cause))
		}
	case resendBatch:
		if a.st.stage == stageTraining && m.version == a.version() {
			a.rt.Log.Warn("no PolicyUpdated yet, resending the batch", "iteration", a.st.iteration, "after", a.cfg.LearnerResend)
			a.sendBatch(c)
		}
	case messages.PolicyLoaded:
		a.onPolicyLoaded(c, m)
	case Shutdown:
		a.shutdown(c)
	case *actor.Restarting:
		a.restarting = true
		a.resend.Stop()
	case *actor.Stopping:
		a.resend.Stop()
		a.closePrep()
	case *actor.Stopped:
	default:
		a.rt.Log.Warn("coordinator: unknown message", "type", typeName(m))
	}
}

func (a *coordinatorActor) version() int { return a.cfg.StartVersion + a.st.iteration }

// resume starts the run, or picks it up again after a restart.
func (a *coordinatorActor) resume(c actor.Context) {
	st := a.st
	switch {
	case st.refs == nil:
		a.startIteration(c)
	case st.stage == stageRollout:
		a.rt.Log.Warn("coordinator restarted: respawning unrecorded episodes", "iteration", st.iteration,
			"recorded", st.nRecorded, "of", len(st.refs))
		a.next = 0
		if st.cancelling {
			a.cancelRest()
			a.maybeBarrier(c)
			return
		}
		a.fill(c)
	case st.stage == stageTraining:
		a.sendBatch(c)
		a.prepareNext()
	case st.stage == stageLoading:
		c.Request(a.inference, messages.LoadPolicy{Iteration: st.iteration, Version: a.version() + 1})
	}
}

func (a *coordinatorActor) startIteration(c actor.Context) {
	st, cfg := a.st, a.cfg
	n := cfg.TasksPerIteration * cfg.GroupSize
	st.stage, st.began = stageRollout, time.Now()
	st.tasks, st.refs = a.plan(st.iteration)
	st.records, st.recorded, st.nRecorded = make([]messages.EpisodeRecord, n), make([]bool, n), 0
	st.report = IterationReport{Iteration: st.iteration, PolicyVersion: a.version(), Requested: n,
		AbandonedBy: map[messages.FailureKind]int{}}
	a.next = 0
	a.rt.Log.Info("iteration started", "iteration", st.iteration, "policy_version", a.version(),
		"tasks", cfg.TasksPerIteration, "group", cfg.GroupSize, "episodes", n)
	a.rt.observe(Event{Kind: EventIterationStarted, Ref: messages.EpisodeRef{Iteration: st.iteration, PolicyVersion: a.version()}, Episodes: n})
	a.fill(c)
}

// plan returns the tasks and episode refs of iteration k, in request order
// (group-major): the same whenever it is asked, so the next iteration's sandboxes can
// be prepared before it starts.
func (a *coordinatorActor) plan(k int) ([]messages.TaskRef, []messages.EpisodeRef) {
	cfg := a.cfg
	tasks := sampleTasks(cfg.Tasks, cfg.TasksPerIteration, cfg.Seed, k)
	refs := make([]messages.EpisodeRef, 0, len(tasks)*cfg.GroupSize)
	for g, t := range tasks {
		for s := 0; s < cfg.GroupSize; s++ {
			refs = append(refs, messages.EpisodeRef{Iteration: k, PolicyVersion: cfg.StartVersion + k,
				Group: g, Sample: s, TaskID: t.ID})
		}
	}
	return tasks, refs
}

// prepareNext starts the sandboxes of the next iteration's first attempts (as many
// as will be spawned at once) while the learner trains this one.
func (a *coordinatorActor) prepareNext() {
	st := a.st
	k := st.iteration + 1
	if a.prep == nil || st.cancelling || k >= a.cfg.Iterations {
		return
	}
	tasks, refs := a.plan(k)
	if limit := a.cfg.MaxConcurrentEpisodes; limit > 0 && len(refs) > limit {
		refs = refs[:limit]
	}
	specs := make([]sandbox.Spec, len(refs))
	for i, ref := range refs {
		specs[i] = sandbox.Spec{Task: tasks[ref.Group], Ref: ref, Attempt: 1}
	}
	a.prep.prepare(k, specs)
	a.rt.Log.Debug("preparing the next iteration's sandboxes", "iteration", k, "sandboxes", len(specs))
}

func (a *coordinatorActor) closePrep() {
	if a.prep != nil {
		a.prep.close()
	}
}

// fill spawns episodes up to the concurrency cap.
func (a *coordinatorActor) fill(c actor.Context) {
	st := a.st
	for a.next < len(st.refs) && (a.cfg.MaxConcurrentEpisodes <= 0 || len(a.live) < a.cfg.MaxConcurrentEpisodes) {
		i := a.next
		a.next++
		if st.recorded[i] {
			continue
		}
		ref := st.refs[i]
		spec := EpisodeSpec{Ref: ref, Task: st.tasks[ref.Group], Inference: a.inference, Graders: a.graders,
			Coordinator: a.self, Sandboxes: a.sandboxes, Seed: a.cfg.Seed}
		props := NewEpisodeProps(a.rt, a.cfg.Episode, spec, a.cfg.EpisodeMiddleware...)
		if a.cfg.Launch != nil {
			props = a.cfg.Launch(spec)
		}
		pid := c.Spawn(props)
		a.live[pid.Id] = i
		a.pidOf[i] = pid
	}
	a.maybeBarrier(c)
}

func (a *coordinatorActor) index(ref messages.EpisodeRef) (int, bool) {
	st := a.st
	if ref.Iteration != st.iteration || st.stage != stageRollout {
		return 0, false
	}
	i := ref.Group*a.cfg.GroupSize + ref.Sample
	if i < 0 || i >= len(st.refs) || st.refs[i].Key() != ref.Key() {
		return 0, false
	}
	return i, true
}

func (a *coordinatorActor) onRecord(c actor.Context, rec messages.EpisodeRecord) {
	i, ok := a.index(rec.Ref)
	if !ok {
		a.st.report.Stale++
		return
	}
	if a.st.recorded[i] {
		a.st.report.Duplicates++
		return
	}
	a.accept(i, rec)
	if pid := a.pidOf[i]; pid != nil {
		c.Stop(pid) // its record is in: the episode (and its sandbox, if any) can go
	}
}

func (a *coordinatorActor) accept(i int, rec messages.EpisodeRecord) {
	st := a.st
	st.records[i], st.recorded[i] = rec, true
	st.nRecorded++
	st.report.Stale += rec.Stale
	if rec.Status == messages.Abandoned {
		st.report.Abandoned++
		st.report.AbandonedBy[rec.Failure.Kind]++
		a.rt.episodeLog(rec.Ref, rec.Attempts).Warn("episode abandoned", "failure", rec.Failure.Kind,
			"cause", rec.Failure.Cause, "retries", rec.Retries, "fix", FailureFix(rec.Failure.Kind))
	} else {
		if a.rt.Log.IsDebug() { // a line per episode: build its fields only when it is written
			a.rt.episodeLog(rec.Ref, rec.Attempts).Debug("episode finished", "resolved", rec.Resolved,
				"stop", rec.Stop, "turns", rec.Turns(), "retries", rec.Retries, "duration", rec.Duration)
		}
		st.report.Finished++
		if rec.Resolved {
			st.report.Resolved++
		}
	}
	a.report.Record(rec)
}

func (a *coordinatorActor) onTerminated(c actor.Context, who *actor.PID) {
	i, ok := a.live[who.Id]
	if !ok {
		return
	}
	delete(a.live, who.Id)
	delete(a.pidOf, i)
	if !a.st.recorded[i] {
		// Its record may still be in our mailbox behind this system message: look again
		// once every message sent before now has been handled.
		c.Send(a.self, reap{iteration: a.st.iteration, index: i})
	}
	if !a.st.cancelling {
		a.fill(c)
	} else {
		a.maybeBarrier(c)
	}
}

func (a *coordinatorActor) onReap(c actor.Context, m reap) {
	st := a.st
	if m.iteration != st.iteration || st.stage != stageRollout || st.recorded[m.index] {
		return
	}
	f := messages.Failure{Kind: messages.FailCrashed, Cause: "episode actor stopped after repeated panics"}
	if st.cancelling {
		f = messages.Failure{Kind: messages.FailCancelled, Cause: "run stopped before the episode ended"}
	}
	a.accept(m.index, messages.Abandon(st.refs[m.index], st.tasks[st.refs[m.index].Group], f))
	a.maybeBarrier(c)
}

// maybeBarrier trains once every requested episode has its record and is gone.
func (a *coordinatorActor) maybeBarrier(c actor.Context) {
	st := a.st
	if st.stage != stageRollout || st.nRecorded < len(st.refs) || len(a.live) > 0 {
		return
	}
	st.report.Rollout = time.Since(st.began)
	if st.cancelling {
		a.finishCancelled()
		return
	}
	st.batch = a.buildBatch()
	st.stage, st.trainBegan = stageTraining, time.Now()
	a.rt.Log.Info("barrier reached", "iteration", st.iteration, "finished", st.report.Finished,
		"abandoned", st.report.Abandoned, "resolved", st.report.Resolved, "batch", st.batch.Len(),
		"rollout", st.report.Rollout.Round(time.Millisecond))
	a.sendBatch(c)
	a.prepareNext()
}

func (a *coordinatorActor) buildBatch() messages.TrainBatch {
	st, g := a.st, a.cfg.GroupSize
	var batch []messages.EpisodeRecord
	group := make([]dapo.Sample, g)
groups:
	for start := 0; start < len(st.records); start += g {
		recs := st.records[start : start+g]
		for i, r := range recs {
			if r.Status != messages.Finished {
				st.report.GroupsDroppedAbandoned++
				continue groups
			}
			group[i] = dapo.Sample{Outcome: r.Reward, Final: r.Final}
		}
		res := dapo.Apply(group, a.cfg.Filter, a.cfg.Advantage)
		if !res.Kept {
			st.report.GroupsDroppedZeroAdvantage++
			continue
		}
		st.report.GroupsKept++
		for i := range recs {
			recs[i] = recs[i].WithAdvantage(res.Advantages[i])
			if res.Keep[i] {
				batch = append(batch, recs[i])
			} else {
				st.report.SamplesDroppedZeroAdvantage++
			}
		}
	}
	st.report.BatchSize = len(batch)
	return messages.NewTrainBatch(st.iteration, a.version(), batch)
}

func (a *coordinatorActor) sendBatch(c actor.Context) {
	a.resend.Stop()
	c.Request(a.learner, a.st.batch)
	a.resend = a.rt.After(a.cfg.LearnerResend, a.self, resendBatch{version: a.version()})
}

func (a *coordinatorActor) onPolicyUpdated(c actor.Context, m messages.PolicyUpdated) {
	st := a.st
	if st.stage != stageTraining || m.Version != a.version()+1 {
		st.report.Stale++
		return
	}
	a.resend.Stop()
	st.report.Train = m.Stats
	st.stage = stageLoading
	c.Request(a.inference, messages.LoadPolicy{Iteration: st.iteration, Version: m.Version})
}

func (a *coordinatorActor) onPolicyLoaded(c actor.Context, m messages.PolicyLoaded) {
	st := a.st
	if st.stage != stageLoading || m.Version != a.version()+1 {
		st.report.Stale++
		return
	}
	st.report.Training = time.Since(st.trainBegan)
	st.report.Records = st.records
	if m.Err != "" {
		// The iteration is trained; its records are reported before the run fails.
		a.report.Iteration(st.report)
		a.fail(fmt.Errorf("inference could not load policy version %d: %s", m.Version, m.Err))
		return
	}
	a.report.Iteration(st.report)
	a.rt.Log.Info("iteration done", "iteration", st.iteration, "policy_version", m.Version,
		"loss", st.report.Train.Loss, "training", st.report.Training.Round(time.Millisecond))
	st.iteration++
	if st.cancelling {
		a.finish(context.Canceled)
		return
	}
	if st.iteration >= a.cfg.Iterations {
		a.finish(nil)
		return
	}
	a.startIteration(c)
}

func (a *coordinatorActor) shutdown(c actor.Context) {
	st := a.st
	if st.cancelling {
		return
	}
	st.cancelling = true
	a.rt.Log.Info("shutting down: stopping in-flight episodes", "iteration", st.iteration, "live", len(a.live))
	switch st.stage {
	case stageRollout:
		a.cancelRest()
		for _, pid := range a.pidOf {
			c.Stop(pid)
		}
		a.maybeBarrier(c)
	default:
		// Every record of this iteration is in; the update is not. Stop here.
		a.finishCancelled()
	}
}

// cancelRest records the episodes that were never spawned as cancelled.
func (a *coordinatorActor) cancelRest() {
	st := a.st
	for ; a.next < len(st.refs); a.next++ {
		if !st.recorded[a.next] {
			ref := st.refs[a.next]
			a.accept(a.next, messages.Abandon(ref, st.tasks[ref.Group],
				messages.Failure{Kind: messages.FailCancelled, Cause: "run stopped before the episode started"}))
		}
	}
}

func (a *coordinatorActor) finishCancelled() {
	st := a.st
	st.report.Cancelled = true
	st.report.Records = st.records
	a.report.Iteration(st.report)
	a.finish(context.Canceled)
}

func (a *coordinatorActor) fail(err error) {
	a.rt.Log.Error("run failed", "error", err)
	a.finish(err)
}

func (a *coordinatorActor) finish(err error) {
	a.resend.Stop()
	a.closePrep()
	a.st.stage, a.st.done = stageDone, true
	a.report.Done(err)
}

// sampleTasks draws n tasks for iteration k: a seeded shuffle of the pool, cycled when
// n exceeds it.
func sampleTasks(pool []messages.TaskRef, n int, seed uint64, k int) []messages.TaskRef {
	rng := rand.New(rand.NewPCG(seed, uint64(k)+1))
	perm := rng.Perm(len(pool))
	out := make([]messages.TaskRef, n)
	for i := range out {
		out[i] = pool[perm[i%len(pool)]]
	}
	return out
}

// errCoreStopped is reported when a core actor is stopped by its supervisor.
var errCoreStopped = errors.New("engine actor stopped after repeated panics")
