package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/swerl/swerl/sandbox"
)

// Docker cannot kill an exec, so the scripts below do it from inside. Every command
// runs under runWrapper, in its own session (setsid), and when it ends killAll removes
// every other process of the container but pid 1 (docker-init), the idle process and
// itself: what the command left running, in its process group or escaped from it.
// When the context ends first, a second exec runs killAll alone, which kills the
// command, its children and the wrapper, and ends the exec's stream. Both use bash
// builtins only, so they work in a container whose process table is full. Execs
// start in / (the container's working directory may have been deleted, and an exec
// whose directory is missing fails to start); the wrapper then moves to the root.

// killAllFunc defines killall IDLE: kill every process but 1, IDLE (the lease loop
// of lease.go), IDLE's children (date and sleep, where an old bash makes it fork) and
// the caller, by process group where the group holds none of those (one kill(2)
// takes a whole fork bomb), until a pass finds nothing left (zombies are
// docker-init's to reap).
const killAllFunc = `killall() {
  local keep=" 1 $$ $1 " protect=" 0 " i p l f n
  for p in 1 $$ $1; do
    read -r l 2>/dev/null </proc/$p/stat && f=(${l##*) }) && protect+="${f[2]} "
  done
  for ((i = 0; i < 200; i++)); do
    n=0
    for p in /proc/[0-9]*; do
      p=${p#/proc/}
      [[ $keep == *" $p "* ]] && continue
      read -r l 2>/dev/null </proc/$p/stat || continue
      f=(${l##*) })
      [[ ${f[0]} == Z || ( -n $1 && ${f[1]} == "$1" ) ]] && continue
      n=1
      if [[ $protect == *" ${f[2]} "* ]]; then kill -9 "$p"; else kill -9 -- "-${f[2]}"; fi 2>/dev/null
    done
    ((n)) || return 0
  done
  return 1
}
`

// runWrapper runs $1 with bash in the directory $2 (or / when it is gone), then
// kills what it left; $3 is the idle process's pid. It exits with the command's status.
const runWrapper = killAllFunc + `cd -- "$2" 2>/dev/null || cd /
if command -v setsid >/dev/null; then setsid bash -c "$1"; else bash -c "$1"; fi
rc=$?
killall "$3"
exit $rc
`

// killScript kills every process but pid 1 and the idle process ($1).
const killScript = killAllFunc + `killall "$1"`

// idleScript prints the pids of pid 1's children: right after the container
// starts, only the idle process (the lease loop, lease.go).
const idleScript = `for p in /proc/[0-9]*; do
  read -r l 2>/dev/null <$p/stat || continue
  f=(${l##*) })
  [[ ${f[1]} == 1 ]] && echo "${p#/proc/}"
done
exit 0
`

// execIn runs the command under runWrapper in the sandbox's container, copying its
// stdout and stderr to the writers, which may be the same (a Capture is safe for
// that), and returns its exit status. It returns ctx's error when ctx ended first,
// after the command was killed (exit status -1); any other error means the
// container cannot be used.
func (s *Sandbox) execIn(ctx context.Context, stdout, stderr io.Writer, command string) (int, error) {
	f, id := s.f, s.id
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	cmd := []string{"bash", "-c", runWrapper, "swerl", command, s.root, idle}
	var execID string
	err := f.cfg.Retry.do(ctx, f.log, "exec create", func(ctx context.Context) error {
		r, err := f.cli.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: cmd, WorkingDir: "/", AttachStdout: true, AttachStderr: true})
		execID = r.ID
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		return 0, fmt.Errorf("exec in container %s: %w", short(id), err)
	}
	att, err := f.cli.ExecAttach(ctx, execID, client.ExecAttachOptions{})
	if err != nil {
		if ctx.Err() != nil {
			// The exec may have started before the attach gave up.
			f.killCommands(id, idle)
			return -1, ctx.Err()
		}
		return 0, fmt.Errorf("exec start in container %s: %w", short(id), err)
	}
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(stdout, stderr, att.Reader)
		copied <- err
	}()
	select {
	case err := <-copied:
		att.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("reading exec output from container %s: %w", short(id), err)
		}
	case <-ctx.Done():
		// The stream ends when the wrapper exits, which is after everything the
		// command started is gone (the wrapper's own killall, or the killer's).
		kerr := f.killCommands(id, idle)
		t := time.NewTimer(f.cfg.KillGrace)
		ended := true
		select {
		case <-copied:
			t.Stop()
		case <-t.C:
			ended = false
		}
		att.Close()
		if !ended {
			<-copied
			// The commands are still there, perhaps holding every pid the container
			// may have: restart it (processes gone, files kept).
			f.log.Warn("commands could not be killed from inside: restarting the container", "container", short(id), "kill error", kerr)
			if err := s.restart(); err != nil {
				return -1, sandbox.Died(fmt.Errorf("%w (commands could not be killed: %w; restarting the container: %w)", ctx.Err(), kerr, err))
			}
		}
		return -1, ctx.Err()
	}
	code, err := f.exitCode(ctx, execID)
	if err != nil {
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		return 0, err
	}
	return code, nil
}

// exitCode waits for the daemon to record the exec's end (it may lag the stream's
// end by a moment) and returns its exit status.
func (f *Factory) exitCode(ctx context.Context, execID string) (int, error) {
	wait := time.Millisecond
	for deadline := time.Now().Add(10 * time.Second); ; {
		var r client.ExecInspectResult
		err := f.cfg.Retry.do(ctx, f.log, "exec inspect", func(ctx context.Context) error {
			var err error
			r, err = f.cli.ExecInspect(ctx, execID, client.ExecInspectOptions{})
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("exec inspect: %w", err)
		}
		if !r.Running {
			return r.ExitCode, nil
		}
		if time.Now().After(deadline) {
			return 0, errors.New("exec output ended but the daemon still reports it running")
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// killCommands kills every process of the container but its idle process, from a
// second exec; it runs on its own context since the caller's has ended. It tries a
// few times: in a container whose process table is full the exec may not start.
func (f *Factory) killCommands(id, idle string) error {
	if f.testNoKill {
		return errors.New("killing disabled by the test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.cfg.KillGrace)
	defer cancel()
	var err error
	for wait := 20 * time.Millisecond; ctx.Err() == nil; wait = min(2*wait, 500*time.Millisecond) {
		var out strings.Builder
		var code int
		code, err = f.execPlain(ctx, id, &out, killScript, idle)
		if err == nil && code == 0 {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("kill exited %d: %s", code, strings.TrimSpace(out.String()))
		}
		if cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) {
			return err // the container is gone or stopped: nothing left to kill
		}
		f.log.Debug("killing commands failed, retrying", "container", short(id), "error", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	return err
}

// execPlain runs a short script to its end without the kill machinery of execIn
// (used to kill and to probe).
func (f *Factory) execPlain(ctx context.Context, id string, out io.Writer, script string, args ...string) (int, error) {
	cmd := append([]string{"bash", "-c", script, "swerl"}, args...)
	r, err := f.cli.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: cmd, WorkingDir: "/", AttachStdout: true, AttachStderr: true})
	if err != nil {
		return 0, err
	}
	att, err := f.cli.ExecAttach(ctx, r.ID, client.ExecAttachOptions{})
	if err != nil {
		return 0, err
	}
	defer att.Close()
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()
	if _, err := stdcopy.StdCopy(out, out, att.Reader); err != nil && ctx.Err() == nil {
		return 0, err
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return f.exitCode(ctx, r.ID)
}

// probe checks that the container runs commands and returns the pid of its idle
// process, the only child of docker-init (pid 1). Right after a start docker-init may
// not have spawned it yet, so an empty answer is asked again for a while: taking ""
// for an answer would let the kill scripts kill the idle process, and with it the
// container.
func (f *Factory) probe(ctx context.Context, id string) (string, error) {
	wait := 5 * time.Millisecond
	for deadline := time.Now().Add(5 * time.Second); ; {
		var out strings.Builder
		code, err := f.execPlain(ctx, id, &out, idleScript)
		if err != nil {
			return "", err
		}
		if code != 0 {
			return "", fmt.Errorf("probe exited %d: %s", code, strings.TrimSpace(out.String()))
		}
		pids := strings.Fields(out.String())
		switch {
		case len(pids) == 1:
			return pids[0], nil
		case len(pids) > 1:
			return "", fmt.Errorf("probe: expected one idle process, found %v", pids)
		case time.Now().After(deadline):
			return "", errors.New("probe: the idle process did not appear under docker-init")
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// restart kills the container and starts it again: every process is gone, the
// files stay. Used when commands cannot be killed from inside. It is the daemon's
// restart, one call: a container killed and started in two would be removed in
// between (AutoRemove). The lease loop starts again with a fresh lease and the
// same deadline.
func (s *Sandbox) restart() error {
	f, id := s.f, s.id
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	now := 0
	if _, err := f.cli.ContainerRestart(ctx, id, client.ContainerRestartOptions{Signal: "KILL", Timeout: &now}); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	idle, err := f.probe(ctx, id)
	if err != nil {
		// Seen on a loaded daemon: the restart returns with the container stopped
		// again. Still there (not removed), it is started once more.
		if _, serr := f.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); serr == nil {
			idle, err = f.probe(ctx, id)
		}
	}
	if err != nil {
		return fmt.Errorf("after restart: %w", err)
	}
	s.mu.Lock()
	s.idle = idle
	s.mu.Unlock()
	return nil
}
