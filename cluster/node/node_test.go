package node_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/cluster/wire"
	"github.com/swerl/swerl/internal/syncbuf"
	"github.com/swerl/swerl/messages"
)

// runLimit bounds a run in virtual time: far more than any of these runs needs, far
// less than an episode's own deadline (2h), so a hang fails here and not as a timeout
// somewhere else.
const runLimit = 10 * time.Minute

// Every episode of a run gets exactly one record, the work is spread over both
// workers, and nothing is placed twice.
func TestRunSpreadsOverWorkers(t *testing.T) {
	bubble(t, func(t *testing.T, r *rig) {
		a, b := r.startWorker("A", 2, ""), r.startWorker("B", 2, "")
		r.show("A", "B")
		const tasks, group = 4, 4
		res := wait(t, r.start(context.Background(), r.config(tasks, group)), runLimit)
		checkOneRecordEach(t, res, tasks*group)
		r.waitIdle(t) // the last acknowledgements reach the workers after the run ends
		sa, sb := a.Stats(), b.Stats()
		t.Logf("worker A %+v, worker B %+v, head %+v", sa, sb, r.head.Stats())
		if sa.Started == 0 || sb.Started == 0 {
			t.Errorf("started: A %d, B %d; want both > 0", sa.Started, sb.Started)
		}
		if n := sa.Started + sb.Started; n != tasks*group {
			t.Errorf("episodes started on the workers = %d, want %d (each once)", n, tasks*group)
		}
		if n := sa.Recorded + sb.Recorded; n != tasks*group {
			t.Errorf("records acknowledged to the workers = %d, want %d", n, tasks*group)
		}
		hs := r.head.Stats()
		if hs.Placed != tasks*group || hs.NodeLost != 0 || hs.LateDropped != 0 || hs.GaveUp != 0 || hs.WorkersLost != 0 {
			t.Errorf("head stats %+v: want %d placed and nothing lost or late", hs, tasks*group)
		}
		checkDrained(t, r.head)
	})
}

// A worker lost mid-iteration (gone from the member list, its process stopped): its
// episodes are placed again on the other worker as new attempts, and the iteration
// still ends with exactly one record per episode.
func TestWorkerLostMidIteration(t *testing.T) {
	bubble(t, func(t *testing.T, r *rig) {
		a, b := r.startWorker("A", 2, ""), r.startWorker("B", 2, "")
		r.show("A", "B")
		const tasks, group = 4, 4
		cfg := r.config(tasks, group)
		var logs syncbuf.Buffer
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn, JSONFormat: true})
		done := r.start(context.Background(), cfg)
		waitFor(t, time.Minute, "episodes running on A", func() bool { return a.Running() == 2 })
		lostStarted := a.Stats().Started
		r.show("B")
		a.Stop()
		if n := a.Running(); n != 0 {
			t.Errorf("A runs %d episodes after Stop", n)
		}
		res := wait(t, done, runLimit)
		checkOneRecordEach(t, res, tasks*group)
		hs := r.head.Stats()
		t.Logf("worker A %+v, worker B %+v, head %+v", a.Stats(), b.Stats(), hs)
		if hs.NodeLost != 2 || hs.WorkersLost != 1 || hs.GaveUp != 0 || hs.Placed != tasks*group+2 {
			t.Errorf("head stats %+v: want 2 episodes lost with 1 worker and placed again, none given up", hs)
		}
		if n := r.worlds["A"].OpenSandboxes(); n != 0 {
			t.Errorf("A has %d sandboxes open after Stop", n)
		}
		if a.Stats().Started != lostStarted {
			t.Errorf("A started %d episodes after it left (had %d)", a.Stats().Started, lostStarted)
		}
		if r.head.Table().Has("A") {
			t.Error("A is still in the placement table")
		}
		// The lost episodes were all run again on B, and none of them twice.
		if got, want := b.Stats().Started, tasks*group-a.Stats().Recorded; got != want {
			t.Errorf("B started %d episodes, want %d (all but A's acknowledged ones)", got, want)
		}
		// The records of the lost episodes count the loss as a retry.
		retried := 0
		for _, rec := range res.Iterations[0].Records {
			if rec.Retries > 0 {
				retried++
			}
		}
		if retried != 2 {
			t.Errorf("%d records with retries, want the 2 lost episodes'", retried)
		}
		// Each placed again is logged with the run, the episode and its new attempt.
		var lost int
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("not a JSON line: %q", line)
			}
			if m["@message"] != "episode's worker lost: placing it again" {
				continue
			}
			lost++
			ep, _ := m["episode"].(string)
			if id, _ := m["run"].(string); len(id) != 8 || !strings.HasPrefix(ep, "g") || m["iteration"] != 0.0 ||
				m["attempt"] != 2.0 || m["worker"] != "A" || m["task"] == nil {
				t.Errorf("worker-lost line without run, iteration, episode, task, attempt 2 and worker: %s", line)
			}
		}
		if lost != 2 {
			t.Errorf("%d worker-lost lines, want 2:\n%s", lost, logs.String())
		}
		r.waitIdle(t)
		checkDrained(t, r.head)
	})
}

// A worker partitioned from the head: its records are held back, it leaves the member
// list while still running, its episodes are placed again elsewhere, and then its
// records arrive late. Every late record (and a forged one of another head or of an
// attempt never made) is dropped and counted, and each episode still has one record.
func TestLateRecordsAreFenced(t *testing.T) {
	bubble(t, func(t *testing.T, r *rig) {
		a, b := r.startWorker("A", 2, ""), r.startWorker("B", 2, "")
		c := r.startWorker("C", 2, agentName("C")+"-behind")
		p := newPartition(r, "C", c.Agent())
		p.set(func(p *partition) { p.hold = true })
		r.show("A", "B", "C")
		const tasks, group = 4, 4
		done := r.start(context.Background(), r.config(tasks, group))

		// C finishes its first two episodes; their records (and C's resends) are held.
		waitFor(t, time.Minute, "C's records held", func() bool {
			keys, copies := p.heldEpisodes()
			return len(keys) == 2 && copies >= 4
		})
		held, _ := p.heldEpisodes()
		if c.Running() != 2 {
			t.Fatalf("C runs %d episodes, want 2 waiting for their acknowledgement", c.Running())
		}
		// Cut C off and drop it from the list: the head places its episodes again.
		p.set(func(p *partition) { p.cut = true })
		r.show("A", "B")
		if hs := r.head.Stats(); hs.NodeLost != 2 || hs.WorkersLost != 1 {
			t.Fatalf("head stats %+v after C left: want 2 episodes lost from 1 worker", hs)
		}
		before := r.head.Stats().LateDropped

		// Forged records: another head's, and this head's with an attempt it never made.
		for _, k := range held {
			proxy := p.proxy(k)
			for _, f := range []*wire.Fence{{Head: "another-head", Attempt: 1}, {Head: r.head.Epoch(), Attempt: 99}} {
				r.sys.Root.Send(proxy, &wire.EpisodeDone{Fence: f, Record: wire.RecordOf(messages.EpisodeRecord{
					Ref: p.refOf(k), Status: messages.Finished, Reward: 1})})
			}
		}
		// Now C's held records reach the proxies, whose episodes run on A or B.
		_, copies := p.heldEpisodes()
		r.sys.Root.Send(actor.NewPID(r.sys.Address(), agentName("C")), release{})
		synctest.Wait()
		late := r.head.Stats().LateDropped - before
		if want := int64(copies + 2*len(held)); late != want {
			t.Errorf("late records dropped = %d, want %d (%d held copies, %d forged)", late, want, copies, 2*len(held))
		}

		res := wait(t, done, runLimit)
		checkOneRecordEach(t, res, tasks*group)
		t.Logf("worker A %+v, B %+v, C %+v, head %+v", a.Stats(), b.Stats(), c.Stats(), r.head.Stats())
		// The held episodes' records are those of their second attempt, on A or B.
		for _, rec := range res.Iterations[0].Records {
			if slices.Contains(held, refKey(wire.Ref(rec.Ref))) && rec.Retries < 1 {
				t.Errorf("%+v: the record of a lost episode says %d retries, want >= 1", rec.Ref, rec.Retries)
			}
		}
		// C, cut off, stops what it still runs (the late records' acknowledgements may
		// have stopped them first) and starts nothing more.
		r.waitIdle(t)
		if got := c.Stats().Started; got != 2 {
			t.Errorf("C started %d episodes, want 2", got)
		}
		checkDrained(t, r.head)
	})
}

// A worker whose head stops renewing its lease stops every episode, and removes its
// sandbox, within the lease's TTL plus one check (and a little slack for the polling):
// virtual time, so the bound holds whatever the machine's load.
func TestWorkerCutOffWhenHeadGoesAway(t *testing.T) {
	bubble(t, func(t *testing.T, r *rig) {
		a := r.startWorker("A", 3, "")
		r.show("A")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		const tasks, group = 2, 4
		done := r.start(ctx, r.config(tasks, group))
		waitFor(t, time.Minute, "episodes running on A", func() bool { return a.Running() == 3 })
		r.head.Close() // no more leases
		closed := time.Now()
		waitFor(t, leaseTTL+checkEvery+time.Second, "A to stop its episodes and remove their sandboxes", func() bool {
			return a.Running() == 0 && r.worlds["A"].OpenSandboxes() == 0
		})
		if took, limit := time.Since(closed), leaseTTL+checkEvery+latency; took > limit {
			t.Errorf("A stopped its episodes %v after the last lease, want <= %v", took, limit)
		}
		if st := a.Stats(); st.CutOff != 3 {
			t.Errorf("A stats %+v: want 3 episodes cut off", st)
		}
		// The run cannot finish without a head; cancelling it still gives one record
		// per episode.
		cancel()
		var rr runResult
		select {
		case rr = <-done:
		case <-time.After(runLimit):
			t.Fatal("the cancelled run did not end")
		}
		if len(rr.res.Iterations) != 1 {
			t.Fatalf("iterations = %d, want the cancelled one", len(rr.res.Iterations))
		}
		it := rr.res.Iterations[0]
		if len(it.Records) != tasks*group || it.Duplicates != 0 || it.Finished+it.Abandoned != tasks*group {
			t.Errorf("records %d, duplicates %d, finished %d, abandoned %d; want %d records, one each",
				len(it.Records), it.Duplicates, it.Finished, it.Abandoned, tasks*group)
		}
		r.waitIdle(t)
	})
}

// A worker that joins mid-run gets work.
func TestWorkerJoinsMidRun(t *testing.T) {
	bubble(t, func(t *testing.T, r *rig) {
		a, b := r.startWorker("A", 2, ""), r.startWorker("B", 2, "")
		r.show("A")
		const tasks, group = 4, 4
		done := r.start(context.Background(), r.config(tasks, group))
		waitFor(t, time.Minute, "episodes running on A", func() bool { return a.Running() == 2 })
		if b.Stats().Started != 0 {
			t.Fatalf("B, not in the member list, started %d episodes", b.Stats().Started)
		}
		r.show("A", "B")
		res := wait(t, done, runLimit)
		checkOneRecordEach(t, res, tasks*group)
		sa, sb := a.Stats(), b.Stats()
		t.Logf("worker A %+v, worker B %+v, head %+v", sa, sb, r.head.Stats())
		if sb.Started == 0 {
			t.Error("B joined mid-run and got no work")
		}
		if sa.Started+sb.Started != tasks*group {
			t.Errorf("started A %d + B %d, want %d", sa.Started, sb.Started, tasks*group)
		}
		if hs := r.head.Stats(); hs.NodeLost != 0 || hs.LateDropped != 0 {
			t.Errorf("head stats %+v: nothing lost or late", hs)
		}
		r.waitIdle(t)
		checkDrained(t, r.head)
	})
}

// A worker that drops out of the member list and comes back while its episodes still
// run (the head's cancels were lost on the way): the head places those episodes again
// as new attempts on the same worker, which replaces the old attempts with the new
// ones. Each episode still has one record, and the worker's count of running episodes
// comes back to zero (each replaced attempt counted off once).
func TestWorkerRejoinsWithOldAttemptsRunning(t *testing.T) {
	bubble(t, func(t *testing.T, r *rig) {
		a := r.startWorker("A", 2, agentName("A")+"-behind")
		p := newPartition(r, "A", a.Agent())
		p.set(func(p *partition) { p.dropCancel = true })
		b := r.startWorker("B", 2, "")
		r.show("A", "B")
		const tasks, group = 1, 4 // two on each worker, none waiting
		done := r.start(context.Background(), r.config(tasks, group))
		waitFor(t, time.Minute, "episodes running on A and B", func() bool { return a.Running() == 2 && b.Running() == 2 })

		r.show("B") // A's episodes wait for a slot (B is full); A never hears of it
		if hs := r.head.Stats(); hs.NodeLost != 2 {
			t.Fatalf("head stats %+v: want A's 2 episodes lost", hs)
		}
		r.show("A", "B") // A is back with two free slots: both go to it
		if st := a.Stats(); st.Started != 4 {
			t.Fatalf("A stats %+v: want its 2 episodes started again on it", st)
		}
		if n := a.Running(); n != 2 {
			t.Errorf("A runs %d episodes, want 2 (the new attempts replaced the old)", n)
		}

		res := wait(t, done, runLimit)
		checkOneRecordEach(t, res, tasks*group)
		t.Logf("worker A %+v, B %+v, head %+v", a.Stats(), b.Stats(), r.head.Stats())
		r.waitIdle(t)
		checkDrained(t, r.head)
	})
}

// An attempt the head placed elsewhere, on a worker that never got the cancel and is
// still in the member list (its lease renewed), ends at its next request: the head
// answers a stale attempt's generation with a failure that ends it, instead of
// leaving it to wait out its turn timeout with a sandbox the head no longer counts.
func TestStaleAttemptEndsAtItsNextRequest(t *testing.T) {
	bubble(t, func(t *testing.T, r *rig) {
		a := r.startWorker("A", 2, agentName("A")+"-behind")
		p := newPartition(r, "A", a.Agent())
		p.set(func(p *partition) { p.dropCancel = true })
		b := r.startWorker("B", 2, "")
		r.show("A")
		const tasks, group = 1, 2
		done := r.start(context.Background(), r.config(tasks, group))
		waitFor(t, time.Minute, "episodes running on A", func() bool { return a.Running() == 2 })

		r.show("B") // A's episodes move to B; A's cancels are lost
		if st := b.Stats(); st.Started != 2 {
			t.Fatalf("B stats %+v: want A's 2 episodes started again on B", st)
		}
		r.show("A", "B") // A is back, its lease renewed, still running the old attempts
		waitFor(t, 30*time.Second, "A's stale attempts to end", func() bool {
			return a.Running() == 0 && r.worlds["A"].OpenSandboxes() == 0
		})

		res := wait(t, done, runLimit)
		checkOneRecordEach(t, res, tasks*group)
		hs := r.head.Stats()
		t.Logf("worker A %+v, B %+v, head %+v", a.Stats(), b.Stats(), hs)
		if hs.LateDropped < 2 {
			t.Errorf("head stats %+v: want the stale attempts' requests and records dropped as late", hs)
		}
		if st := a.Stats(); st.Started != 2 || st.CutOff != 0 {
			t.Errorf("A stats %+v: want 2 started, none cut off (its lease never ran out)", st)
		}
		r.waitIdle(t)
		checkDrained(t, r.head)
	})
}

// A worker that takes episodes and never answers (its starts are lost): each attempt
// is given up after the episode's deadline, grace and a lease, and placed again as a
// new attempt; after NodeLostBudget losses the episode is recorded as abandoned,
// node_lost, with its losses as retries. The other episode of the group finishes.
func TestSilentWorkerSpendsTheBudget(t *testing.T) {
	bubble(t, func(t *testing.T, r *rig) {
		a := r.startWorker("A", 2, agentName("A")+"-behind")
		p := newPartition(r, "A", a.Agent())
		p.set(func(p *partition) { p.dropStart = true })
		b := r.startWorker("B", 2, "")
		r.show("A", "B")
		const tasks, group, budget = 1, 2, 3 // budget: HeadConfig's default
		cfg := r.config(tasks, group)
		cfg.Episode.EpisodeTimeout, cfg.Episode.TurnTimeout, cfg.Episode.CommandTimeout = time.Minute, 30*time.Second, 10*time.Second
		cfg.Episode.GradeTimeout, cfg.Episode.DiffTimeout, cfg.Episode.Grace = 10*time.Second, 10*time.Second, time.Second
		res := wait(t, r.start(context.Background(), cfg), runLimit)

		it := res.Iterations[0]
		hs := r.head.Stats()
		t.Logf("worker A %+v, B %+v, head %+v, dropped starts %d", a.Stats(), b.Stats(), hs, p.dropped)
		if len(it.Records) != group || it.Duplicates != 0 || it.Finished != 1 || it.Abandoned != 1 {
			t.Fatalf("records %d, duplicates %d, finished %d, abandoned %d: want 1 finished on B and 1 abandoned",
				len(it.Records), it.Duplicates, it.Finished, it.Abandoned)
		}
		for _, rec := range it.Records {
			if rec.Status != messages.Abandoned {
				continue
			}
			if rec.Failure.Kind != messages.FailNodeLost || !rec.Failure.Retryable || rec.Retries != budget+1 {
				t.Errorf("abandoned record %+v: %v, retries %d; want node_lost (retryable) after %d losses",
					rec.Ref, rec.Failure, rec.Retries, budget+1)
			}
		}
		if hs.GaveUp != 1 || hs.NodeLost != budget+1 || hs.WorkersLost != 0 {
			t.Errorf("head stats %+v: want 1 episode given up after %d losses, no worker lost", hs, budget+1)
		}
		p.set(func(p *partition) {
			if p.dropped != budget+1 {
				t.Errorf("starts dropped on A = %d, want %d (every attempt went to A, the emptiest)", p.dropped, budget+1)
			}
		})
		if st := a.Stats(); st.Started != 0 {
			t.Errorf("A stats %+v: it never saw an episode", st)
		}
		r.waitIdle(t)
		checkDrained(t, r.head)
	})
}

// A worker cut off from a head that still sees it (its leases are lost, the member
// list still shows it) stops its episodes when its lease runs out and gives them back:
// the head places them again at once, long before their deadline, and the run ends
// with one record per episode.
func TestCutOffWorkerGivesItsEpisodesBack(t *testing.T) {
	bubble(t, func(t *testing.T, r *rig) {
		b := r.startWorker("B", 2, "")
		c := r.startWorker("C", 2, agentName("C")+"-behind")
		p := newPartition(r, "C", c.Agent())
		r.show("B", "C")
		const tasks, group = 3, 4
		done := r.start(context.Background(), r.config(tasks, group))
		waitFor(t, time.Minute, "episodes running on C", func() bool { return c.Running() == 2 })
		p.set(func(p *partition) { p.cut = true }) // no more leases, starts or cancels reach C
		cut := time.Now()
		waitFor(t, leaseTTL+checkEvery+time.Second, "C to stop its episodes", func() bool { return c.Running() == 0 })
		res := wait(t, done, runLimit)
		checkOneRecordEach(t, res, tasks*group)
		if hs := r.head.Stats(); hs.NodeLost < 2 || hs.GaveUp != 0 {
			t.Errorf("head stats %+v: want C's 2 episodes given back and placed again", hs)
		}
		if took := time.Since(cut); took > time.Hour {
			t.Errorf("the run took %v after C was cut off: the given-back episodes waited for their deadline", took)
		}
		if b.Stats().Started == 0 {
			t.Error("B ran nothing")
		}
		r.waitIdle(t)
	})
}
