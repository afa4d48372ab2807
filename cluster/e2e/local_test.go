package e2e

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

const (
	lease     = 3 * time.Second // renewed every 0.6 s: margin for a loaded CI machine
	startWait = 60 * time.Second
	runWait   = 5 * time.Minute
)

// waitEpisodesOn waits until the head is in RL stage 1 (mid-run) and the worker runs
// at least n episodes now (started and not ended, by its debug log), so that a fault
// injected right after hits episodes in flight.
func waitEpisodesOn(head, w *proc, n int) {
	head.waitFor("RL stage 1", runWait, func() bool { return head.count("out", "+ RL stage 1") > 0 })
	w.waitFor("episodes running on the worker", runWait, func() bool {
		return w.count("err", "episode started")-w.count("err", "episode ended") >= n
	})
}

// TestWorkerKilled: SIGKILL of a worker mid-iteration. Its episodes are placed again
// on the other worker as new attempts; every barrier has one record per episode.
func TestWorkerKilled(t *testing.T) {
	c := newCluster(t, 3, lease)
	w1, w2 := c.worker(1), c.worker(2)
	out := filepath.Join(c.dir, "run")
	head := c.head(out)
	waitEpisodesOn(head, w1, 2)
	killed := time.Now()
	w1.signal(syscall.SIGKILL)
	if err := head.wait(runWait); err != nil {
		t.Fatalf("head: %v", err)
	}
	its := checkRecords(t, out)
	s := headSummary(t, head)
	if s.nodeLost == 0 || s.workersLost == 0 {
		t.Errorf("summary %+v: want the killed worker's episodes counted as node_lost", s)
	}
	if s.gaveUp != 0 {
		t.Errorf("summary %+v: no episode should run out of its node-loss budget with a worker left", s)
	}
	if at, ok := head.logTime("worker lost"); ok {
		t.Logf("loss detected %v after SIGKILL; its %d episodes placed again within %v of the loss; %d iterations checked",
			at.Sub(killed).Round(time.Millisecond), s.nodeLost, s.lastReplaced, len(its))
	} else {
		t.Error("the head never logged the worker as lost")
	}
	if started, _ := stopWorker(t, w2); started == 0 {
		t.Error("the surviving worker ran no episode")
	}
}

// TestWorkerFrozen: SIGSTOP of a worker past the loss bound, then SIGCONT. The head
// places its episodes again; the worker, resumed, finds its lease run out and stops
// them by itself; whatever it still sends is dropped.
func TestWorkerFrozen(t *testing.T) {
	c := newCluster(t, 3, lease)
	w1, w2 := c.worker(1), c.worker(2)
	out := filepath.Join(c.dir, "run")
	head := c.head(out)
	waitEpisodesOn(head, w1, 2)
	w1.signal(syscall.SIGSTOP)
	frozen := time.Now()
	head.waitFor("the frozen worker lost", startWait, func() bool { return head.count("err", "worker lost") > 0 })
	if at, ok := head.logTime("worker lost"); ok {
		t.Logf("frozen worker seen lost %v after SIGSTOP (the static provider's health check times out)", at.Sub(frozen).Round(time.Millisecond))
	}
	time.Sleep(lease + time.Second) // past its lease: it must stop its episodes on waking
	w1.signal(syscall.SIGCONT)
	w1.waitFor("the resumed worker to stop its episodes", startWait, func() bool {
		return w1.count("err", "cut off from the head") > 0
	})
	if err := head.wait(runWait); err != nil {
		t.Fatalf("head: %v", err)
	}
	checkRecords(t, out)
	s := headSummary(t, head)
	if s.nodeLost == 0 {
		t.Errorf("summary %+v: want the frozen worker's episodes counted as node_lost", s)
	}
	t.Logf("summary: %+v", s)
	if _, cut := stopWorker(t, w1); cut == 0 {
		t.Error("the frozen worker reports no episode stopped when cut off")
	}
	stopWorker(t, w2)
}

// TestWorkerJoinsLeavesRejoins: a worker that starts mid-run is given work, a worker
// that leaves (SIGTERM) has its episodes placed elsewhere, and the same worker started
// again is given work again, all without restarting the head.
func TestWorkerJoinsLeavesRejoins(t *testing.T) {
	c := newCluster(t, 3, lease)
	w1 := c.worker(1)
	out := filepath.Join(c.dir, "run")
	head := c.head(out, "--set", "stage1.iterations=8")
	waitEpisodesOn(head, w1, 1)
	w2 := c.worker(2)
	w2.waitFor("the late worker to get work", runWait, func() bool { return w2.count("err", "episode started") > 0 })
	if head.count("err", "worker joined", "127.0.0.1:"+itoa(c.remote[2])) == 0 {
		t.Error("the head never logged the late worker as joined")
	}
	stopWorker(t, w1) // leaves mid-run
	again := c.workerNamed(1, "worker1-again")
	again.waitFor("the rejoined worker to get work", runWait, func() bool { return again.count("err", "episode started") > 0 })
	if err := head.wait(runWait); err != nil {
		t.Fatalf("head: %v", err)
	}
	checkRecords(t, out)
	if s := headSummary(t, head); s.workersLost == 0 {
		t.Errorf("summary %+v: the worker that left was never seen lost", s)
	}
	for _, w := range []*proc{w2, again} {
		if started, _ := stopWorker(t, w); started == 0 {
			t.Errorf("%s ran no episode", w.name)
		}
	}
}
