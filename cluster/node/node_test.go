package node_test

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/swerl/swerl/cluster/wire"
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
		waitFor(t, time.Minute, "workers idle", func() bool { return a.Running() == 0 && b.Running() == 0 })
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
		done := r.start(context.Background(), r.config(tasks, group))
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
		if hs.NodeLost < 2 || hs.WorkersLost != 1 || hs.GaveUp != 0 {
			t.Errorf("head stats %+v: want >= 2 episodes lost with 1 worker, none given up", hs)
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
		for _, rec := range res.Iterations[0].Records {
			if rec.Retries < 0 {
				t.Errorf("%+v: retries %d", rec.Ref, rec.Retries)
			}
		}
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
		synctest.Wait()
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
		if want := int64(copies + 2*len(held)); late < want {
			t.Errorf("late records dropped = %d, want >= %d (%d held copies, %d forged)", late, want, copies, 2*len(held))
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
		waitFor(t, time.Minute, "C idle", func() bool { return c.Running() == 0 })
		if got := c.Stats().Started; got != 2 {
			t.Errorf("C started %d episodes, want 2", got)
		}
		checkDrained(t, r.head)
	})
}

// A worker whose head stops renewing its lease stops every episode within the lease's
// TTL plus one check (virtual time: exact whatever the machine's load).
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
		waitFor(t, leaseTTL+checkEvery+time.Second, "A to stop its episodes", func() bool { return a.Running() == 0 })
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
		if a.Running() != 0 {
			t.Errorf("A runs %d episodes after the run", a.Running())
		}
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
		checkDrained(t, r.head)
	})
}

// A worker that drops out of the member list and comes back while its episodes still
// run (the head's cancels were lost on the way): the head places those episodes again
// as new attempts, on the same worker, which replaces the old attempts with the new
// ones. Each episode still has one record, the old attempts' requests are dropped as
// late, and the worker's count of running episodes comes back to zero.
func TestWorkerRejoinsWithOldAttemptsRunning(t *testing.T) {
	bubble(t, func(t *testing.T, r *rig) {
		a := r.startWorker("A", 2, agentName("A")+"-behind")
		p := newPartition(r, "A", a.Agent())
		p.set(func(p *partition) { p.dropCancel = true })
		b := r.startWorker("B", 2, "")
		r.show("A", "B")
		const tasks, group = 4, 4
		done := r.start(context.Background(), r.config(tasks, group))
		waitFor(t, time.Minute, "episodes running on A", func() bool { return a.Running() == 2 })

		r.show("B") // A's episodes wait for a slot; A never hears of it
		synctest.Wait()
		r.show("A", "B") // A is back with two free slots: they go to it
		waitFor(t, time.Minute, "A's episodes placed again on A", func() bool { return a.Stats().Started >= 4 })

		res := wait(t, done, runLimit)
		checkOneRecordEach(t, res, tasks*group)
		hs := r.head.Stats()
		t.Logf("worker A %+v, B %+v, head %+v", a.Stats(), b.Stats(), hs)
		if hs.NodeLost != 2 || hs.WorkersLost != 1 {
			t.Errorf("head stats %+v: want 2 episodes lost from 1 worker", hs)
		}
		waitFor(t, time.Minute, "A idle", func() bool { t.Logf("A running %d", a.Running()); return a.Running() == 0 })
		waitFor(t, time.Minute, "B idle", func() bool { return b.Running() == 0 })
		checkDrained(t, r.head)
	})
}
