package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/swerl/swerl/sandbox"
)

// Sandbox is one started container holding a task's repository. Its methods follow
// sandbox.Sandbox: one call at a time, except Close, which may come at any time.
type Sandbox struct {
	f    *Factory
	id   string
	name string
	root string
	base string
	spec sandbox.Spec
	// activate is the prelude every Exec runs first ("" for none; activate.go).
	activate string

	mu        sync.Mutex
	idle      string // pid of the idle process (changes when the container restarts)
	closed    bool
	closeOnce sync.Once
	closeErr  error
}

// ID returns the container's id.
func (s *Sandbox) ID() string { return s.id }

// Name returns the container's name.
func (s *Sandbox) Name() string { return s.name }

// Root implements sandbox.Sandbox.
func (s *Sandbox) Root() string { return s.root }

func (s *Sandbox) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Exec implements sandbox.Sandbox: bash -c command in Root (or / when the agent
// removed it), stdout and stderr together, capped at Config.OutputLimit while read.
// In a task image with an activation prelude (Workspace.Activate, or the conda
// layout of the official SWE-bench images) the prelude runs first in the same
// shell; when it fails the command does not run and the exit status is
// ActivateFailedExit. Nothing the command started survives it. On ctx's end it
// returns the partial output, exit code -1 and ctx's error.
func (s *Sandbox) Exec(ctx context.Context, command string) (sandbox.Output, error) {
	if s.isClosed() {
		return sandbox.Output{}, sandbox.Died(errors.New("sandbox closed"))
	}
	capture := sandbox.NewCapture(s.f.cfg.OutputLimit)
	code, err := s.execIn(ctx, capture, capture, withPrelude(s.activate, command))
	out := sandbox.Output{Text: capture.String(), ExitCode: code}
	switch {
	case err == nil:
		return out, nil
	case ctx.Err() != nil:
		return out, err
	}
	return out, sandbox.Died(err)
}

// Diff implements sandbox.Sandbox with sandbox.DiffScript. A patch longer than
// Config.DiffLimit is an error, never a truncated patch.
func (s *Sandbox) Diff(ctx context.Context) (string, error) {
	if s.isClosed() {
		return "", sandbox.Died(errors.New("sandbox closed"))
	}
	stdout := sandbox.NewCapture(s.f.cfg.DiffLimit)
	stderr := sandbox.NewCapture(64 << 10)
	script := fmt.Sprintf("[ -d %s ] || { echo 'repository directory gone' >&2; exit 3; }\n", sandbox.Quote(s.root)) +
		sandbox.DiffScript(s.base)
	code, err := s.execIn(ctx, stdout, stderr, script)
	switch {
	case err != nil && ctx.Err() != nil:
		return "", err
	case err != nil:
		return "", sandbox.Died(fmt.Errorf("diff: %w", err))
	case code == 3:
		return "", sandbox.ErrNoRepository
	case code != 0:
		return "", fmt.Errorf("git diff exited %d: %s", code, strings.TrimSpace(stderr.String()))
	case stdout.Dropped() > 0:
		return "", fmt.Errorf("diff: patch longer than the limit of %d bytes", s.f.cfg.DiffLimit)
	}
	return stdout.String(), nil
}

// ReadFile implements sandbox.Sandbox through the daemon's archive API (no process
// in the container), following symbolic links. It reads at most limit+1 bytes.
func (s *Sandbox) ReadFile(ctx context.Context, p string, limit int64) ([]byte, error) {
	if s.isClosed() {
		return nil, sandbox.Died(errors.New("sandbox closed"))
	}
	full := abs(s.root, p)
	for range 16 {
		r, err := s.f.cli.CopyFromContainer(ctx, s.id, client.CopyFromContainerOptions{SourcePath: full})
		if err != nil {
			return nil, s.fileError(ctx, p, err)
		}
		st := r.Stat
		switch {
		case st.Mode&fs.ModeSymlink != 0:
			r.Content.Close()
			full = linkTarget(full, st.LinkTarget)
			continue
		case st.Mode.IsDir():
			r.Content.Close()
			return nil, fmt.Errorf("%s is a directory", p)
		case st.Size > limit:
			r.Content.Close()
			return nil, fmt.Errorf("%s: %w (%d bytes, limit %d)", p, sandbox.ErrTooLarge, st.Size, limit)
		}
		data, err := readOne(r.Content, limit)
		r.Content.Close()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		if int64(len(data)) > limit {
			return nil, fmt.Errorf("%s: %w (limit %d bytes)", p, sandbox.ErrTooLarge, limit)
		}
		return data, nil
	}
	return nil, fmt.Errorf("%s: too many levels of symbolic links", p)
}

// readOne returns the content of the first entry of a tar stream, at most limit+1
// bytes of it.
func readOne(r io.Reader, limit int64) ([]byte, error) {
	tr := tar.NewReader(r)
	if _, err := tr.Next(); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(tr, limit+1))
}

// linkTarget resolves a link target reported by the daemon against the link's path.
func linkTarget(link, target string) string {
	if path.IsAbs(target) {
		return path.Clean(target)
	}
	return path.Join(path.Dir(link), target)
}

// WriteFile implements sandbox.Sandbox through the daemon's archive API: it creates
// missing parents (mode 0755), keeps an existing file's mode (0644 for a new one),
// writes through a symbolic link to its target, and leaves the file owned by root.
func (s *Sandbox) WriteFile(ctx context.Context, p string, data []byte) error {
	if s.isClosed() {
		return sandbox.Died(errors.New("sandbox closed"))
	}
	full := abs(s.root, p)
	var mode int64 = 0o644
	for hops := 0; ; hops++ {
		r, err := s.f.cli.ContainerStatPath(ctx, s.id, client.ContainerStatPathOptions{Path: full})
		if err != nil {
			if cerrdefs.IsNotFound(err) {
				if ferr := s.fileError(ctx, p, err); !errors.Is(ferr, fs.ErrNotExist) {
					return ferr
				}
				break // a new file
			}
			return s.fileError(ctx, p, err)
		}
		st := r.Stat
		if st.Mode&fs.ModeSymlink != 0 && hops < 16 {
			full = linkTarget(full, st.LinkTarget)
			continue
		}
		if st.Mode.IsDir() {
			return fmt.Errorf("%s is a directory", p)
		}
		mode = int64(st.Mode.Perm())
		break
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg, Name: strings.TrimPrefix(full, "/"), Size: int64(len(data)), Mode: mode,
		ModTime: time.Now(), Uname: "root", Gname: "root", Format: tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	tw.Write(data)
	if err := tw.Close(); err != nil {
		return err
	}
	_, err := s.f.cli.CopyToContainer(ctx, s.id, client.CopyToContainerOptions{DestinationPath: "/", Content: &buf})
	if err != nil {
		return s.fileError(ctx, p, err)
	}
	return nil
}

// fileError classifies an archive API error: ctx's end, a dead container (Died), a
// missing file (fs.ErrNotExist), or the daemon's refusal (as it is).
func (s *Sandbox) fileError(ctx context.Context, p string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) && !cerrdefs.IsInvalidArgument(err) &&
		!cerrdefs.IsPermissionDenied(err) {
		return sandbox.Died(fmt.Errorf("%s: %w", p, err))
	}
	r, ierr := s.f.cli.ContainerInspect(ctx, s.id, client.ContainerInspectOptions{})
	switch {
	case ierr != nil && cerrdefs.IsNotFound(ierr):
		return sandbox.Died(fmt.Errorf("container %s is gone: %w", short(s.id), ierr))
	case ierr == nil && (r.Container.State == nil || !r.Container.State.Running):
		return sandbox.Died(fmt.Errorf("container %s is not running", short(s.id)))
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	case cerrdefs.IsPermissionDenied(err):
		return fmt.Errorf("%s: %w: %v", p, fs.ErrPermission, err)
	}
	return fmt.Errorf("%s: %w", p, err)
}

// Close removes the container (force), retrying transient errors, even when ctx has
// ended: a container is never left behind. Later calls return the first's result.
func (s *Sandbox) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.closeErr = s.f.remove(ctx, s.id)
	})
	return s.closeErr
}

var _ sandbox.Sandbox = (*Sandbox)(nil)
