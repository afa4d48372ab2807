package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// A sandbox container cannot outlive its owner by much: its main process, under
// docker-init, is leaseScript, which exits once the container's hard deadline
// (creation + Config.MaxLifetime) or its lease has passed, and the container,
// created with AutoRemove, is then removed by the daemon. The owner extends the
// lease by writing a later expiry to leaseFile every LeaseTTL/3 (renewLeases); when
// the owner dies, however it dies, the renewals stop and the container goes within
// LeaseTTL + 2s plus the daemon's removal time.

// leaseFile is where the owner writes a container's lease expiry (unix seconds).
// Nothing in the container needs to leave it alone: a missing or garbled file keeps
// the last expiry read, and a later one written by the agent is still cut off by the
// hard deadline.
const leaseFile = "/run/swerl-lease"

// leaseScript is the container's main process (the "idle" process of exec.go), run
// as bash -c leaseScript swerl-lease DEADLINE TTL: it exits when the clock reaches
// DEADLINE (unix seconds; status ExitDeadline) or the lease (ExitLeaseLapsed), which
// starts as TTL seconds from its own start (so a restart starts it afresh) and only
// ever grows to what leaseFile says.
// Once started it forks nothing: the clock is printf's %(%s)T, and the one-second
// sleep a read with a timeout on a pipe nobody writes to (bash builtins), so a full
// process table (a fork bomb) neither stops it nor kills it. For an older bash, the
// fallbacks fork date and sleep; a failed fork never ends the loop.
var leaseScript = `d=$1 f=` + leaseFile + `
exec 3<> <(:)
clock() { printf -v now '%(%s)T' -1 2>/dev/null && [[ $now =~ ^[0-9]+$ ]] || now=$(date +%s) || now=; }
clock
l=$(( ${now:-0} + $2 ))
while (( now < d && now < l )); do
  read -r -t 1 -u 3; (( $? > 128 )) || sleep 1
  clock
  v=
  read -r v <"$f" 2>/dev/null
  [[ $v =~ ^[0-9]{1,12}$ ]] && (( 10#$v > l )) && l=$(( 10#$v ))
done
(( now < d )) && exit ` + strconv.Itoa(ExitLeaseLapsed) + `
exit ` + strconv.Itoa(ExitDeadline) + `
`

// ExitLeaseLapsed and ExitDeadline are the exit statuses of a sandbox container
// that ended by itself (the daemon's die event carries them): its lease ran out, or
// its hard deadline passed.
const (
	ExitLeaseLapsed = 10
	ExitDeadline    = 11
)

// leaseCmd is the entrypoint of a container whose hard deadline is deadline.
func (f *Factory) leaseCmd(deadline time.Time) []string {
	return []string{"bash", "-c", leaseScript, "swerl-lease",
		strconv.FormatInt(ceilUnix(deadline), 10), strconv.FormatInt(ceilSeconds(f.cfg.LeaseTTL), 10)}
}

// ceilUnix is t in unix seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// ceilSeconds is d in seconds, rounded up.
func ceilSeconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

// leases is the set of a factory's live containers, whose leases one goroutine
// (renewLeases) renews while the set is not empty.
type leases struct {
	mu       sync.Mutex
	live     map[string]*lease        // by container id
	inflight map[string]chan struct{} // container id -> closed when its renewal ends
	running  bool                     // renewLeases runs
	wake     chan struct{}            // (1) the set became empty: renewLeases checks at once
	loop     tracker                  // renewLeases goroutines (at most one)
}

// lease is one live container's.
type lease struct {
	deadline time.Time // the container's hard deadline (leaseCmd)
	failed   int       // renewals failed in a row
}

// renewParallel bounds the renewals in flight at once.
const renewParallel = 16

// holdLease adds a started container, whose deadline is deadline, to the renewed
// set, starting the renewal goroutine when it is not running.
func (f *Factory) holdLease(id string, deadline time.Time) {
	l := &f.leases
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.live == nil {
		l.live, l.inflight = map[string]*lease{}, map[string]chan struct{}{}
	}
	l.live[id] = &lease{deadline: deadline}
	if !l.running {
		l.running = true
		l.loop.add()
		go f.renewLeases()
	}
}

// dropLease removes a container from the renewed set (it is about to be removed)
// and waits for a renewal in flight to end: a write into the container's files
// racing its removal can make the daemon fail to remove them.
func (f *Factory) dropLease(id string) {
	l := &f.leases
	l.mu.Lock()
	delete(l.live, id)
	empty := len(l.live) == 0
	renewing := l.inflight[id]
	l.mu.Unlock()
	if empty {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	if renewing != nil {
		<-renewing
	}
}

// renewLeases renews the lease of every live container every LeaseTTL/3, and
// returns once none is left (holdLease starts it again). It is the factory's, and
// outlives Close as long as sandboxes handed out do: their containers must live.
func (f *Factory) renewLeases() {
	l := &f.leases
	defer l.loop.done()
	t := time.NewTicker(f.cfg.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-l.wake:
		}
		l.mu.Lock()
		if len(l.live) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		ids := slices.Collect(maps.Keys(l.live))
		l.mu.Unlock()
		sem := make(chan struct{}, renewParallel)
		var wg sync.WaitGroup
		for _, id := range ids {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				f.renewLease(id)
			})
		}
		wg.Wait()
	}
}

// renewLease writes now + LeaseTTL to one container's lease file. A failure is
// logged (a warning from the second in a row on): the next renewals may still
// succeed before the lease lapses. A container gone leaves the set.
func (f *Factory) renewLease(id string) {
	l := &f.leases
	l.mu.Lock()
	// Not past (or about to pass) the container's deadline: a write racing the
	// daemon's removal of the container could make that removal fail.
	if ls, ok := l.live[id]; !ok || l.inflight[id] != nil || time.Until(ls.deadline) < 2*time.Second {
		l.mu.Unlock()
		return
	}
	done := make(chan struct{})
	l.inflight[id] = done
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.inflight, id)
		l.mu.Unlock()
		close(done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), f.cfg.LeaseTTL/3)
	defer cancel()
	err := f.writeLease(ctx, id, ceilUnix(time.Now())+ceilSeconds(f.cfg.LeaseTTL))
	l.mu.Lock()
	ls, ok := l.live[id]
	switch {
	case !ok:
		// Removed meanwhile: the error, if any, means nothing.
		l.mu.Unlock()
		return
	case err == nil:
		ls.failed = 0
		l.mu.Unlock()
		return
	case cerrdefs.IsNotFound(err):
		delete(l.live, id)
		l.mu.Unlock()
		f.log.Info("container gone before its sandbox was closed (deadline or lease passed, or removed from outside)",
			"container", short(id))
		return
	}
	ls.failed++
	failed := ls.failed
	l.mu.Unlock()
	if failed >= 2 {
		f.log.Warn("could not renew a container's lease", "container", short(id), "failures in a row", failed,
			"lease", f.cfg.LeaseTTL, "error", err)
	} else {
		f.log.Debug("could not renew a container's lease", "container", short(id), "error", err)
	}
}

// writeLease writes expiry (unix seconds) to the container's lease file through the
// daemon's archive API: no process in the container, so neither a full process
// table nor the kill scripts of exec.go get in its way.
func (f *Factory) writeLease(ctx context.Context, id string, expiry int64) error {
	data := []byte(strconv.FormatInt(expiry, 10) + "\n")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: leaseFile[1:], Size: int64(len(data)), Mode: 0o644,
		ModTime: time.Now(), Uname: "root", Gname: "root", Format: tar.FormatPAX}); err != nil {
		return err
	}
	tw.Write(data)
	if err := tw.Close(); err != nil {
		return err
	}
	_, err := f.cli.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: "/", Content: &buf})
	return err
}

// waitLeases waits for the renewal goroutine to end when no container is left to
// renew (Close).
func (f *Factory) waitLeases(ctx context.Context) error {
	l := &f.leases
	l.mu.Lock()
	empty := len(l.live) == 0
	l.mu.Unlock()
	if !empty {
		return nil
	}
	return l.loop.wait(ctx)
}
