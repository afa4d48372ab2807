// Package local is the sandbox backend for machines without Docker: each sandbox is a
// private copy of the task's repository in a temporary directory, and each command a
// bash process in its own process group, run with a scrubbed environment, its output
// capped while it is read, and killed with all its children on timeout or when it
// ends. It isolates nothing from the host beyond that: use the docker backend for
// models you do not trust (a fork bomb here is not contained).
package local

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/swerl/swerl/sandbox"
)

// Config configures the backend. Zero fields take defaults.
type Config struct {
	Resolver sandbox.Resolver // required
	// Dir holds the sandboxes (default os.TempDir()).
	Dir string
	// OutputLimit is how many bytes of a command's output are kept (default 1 MiB).
	OutputLimit int
	// DiffLimit is the largest patch Diff returns (default 16 MiB).
	DiffLimit int
	// GoCache is the Go build cache shared by every sandbox (content-addressed, safe
	// to share); default the user's cache directory.
	GoCache string
	// Path is the PATH commands see (default: Go's bin directory, then the PATH
	// swerl runs with, then /usr/local/bin, /usr/bin and /bin). A task's
	// environment (Workspace.Env) puts its own bin directory first.
	Path string
}

// Factory starts local sandboxes.
type Factory struct {
	cfg Config

	pyMu    sync.Mutex
	pythons map[string]string // module set -> interpreter that imports it
}

const dirPrefix = "swerl-sb-"

// New returns a factory and removes the sandboxes that crashed runs left in Dir.
func New(cfg Config) (*Factory, error) {
	if cfg.Resolver == nil {
		return nil, errors.New("local sandbox: no resolver")
	}
	if cfg.Dir == "" {
		cfg.Dir = os.TempDir()
	}
	if cfg.OutputLimit <= 0 {
		cfg.OutputLimit = 1 << 20
	}
	if cfg.DiffLimit <= 0 {
		cfg.DiffLimit = 16 << 20
	}
	if cfg.GoCache == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			d = os.TempDir()
		}
		cfg.GoCache = filepath.Join(d, "swerl", "gocache")
	}
	if cfg.Path == "" {
		cfg.Path = defaultPath()
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("local sandbox directory %s: %w", cfg.Dir, err)
	}
	if err := os.MkdirAll(cfg.GoCache, 0o755); err != nil {
		return nil, fmt.Errorf("go build cache %s: %w", cfg.GoCache, err)
	}
	f := &Factory{cfg: cfg}
	f.Sweep()
	return f, nil
}

// Sweep removes sandbox directories whose owning process is gone and returns how
// many it removed.
func (f *Factory) Sweep() int {
	entries, _ := os.ReadDir(f.cfg.Dir)
	n := 0
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), dirPrefix) {
			continue
		}
		dir := filepath.Join(f.cfg.Dir, e.Name())
		data, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		pid, perr := strconv.Atoi(strings.TrimSpace(string(data)))
		if err == nil && perr == nil && alive(pid) {
			continue
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil && young(dir) {
			continue // another process's Start, before it wrote owner.pid
		}
		if removeAll(dir) == nil {
			n++
		}
	}
	return n
}

// young reports whether dir was made in the last minute.
func young(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && time.Since(fi.ModTime()) < time.Minute
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Start copies the task's checkout into a private directory.
func (f *Factory) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Sandbox, error) {
	ws, err := f.cfg.Resolver.Resolve(ctx, spec.Task)
	if err != nil {
		return nil, err
	}
	if ws.Checkout == "" {
		return nil, fmt.Errorf("task %s runs in image %s, which the local sandbox cannot use: use --sandbox docker (%w)", spec.Task.ID, ws.Image, sandbox.ErrPermanent)
	}
	dir, err := os.MkdirTemp(f.cfg.Dir, fmt.Sprintf("%sk%d-g%d-s%d-a%d-", dirPrefix, spec.Ref.Iteration, spec.Ref.Group, spec.Ref.Sample, spec.Attempt))
	if err != nil {
		return nil, fmt.Errorf("local sandbox: %w (is %s writable and not full?)", err, f.cfg.Dir)
	}
	s := &Sandbox{f: f, dir: dir, root: filepath.Join(dir, "repo"), base: ws.BaseCommit, pathEnv: f.cfg.Path, running: map[int]bool{}}
	ok := false
	defer func() {
		if !ok {
			removeAll(dir)
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	for _, d := range []string{"home", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := f.applyEnv(ctx, s, spec.Task.ID, ws.Env); err != nil {
		return nil, err
	}
	cp := exec.CommandContext(ctx, "cp", "-a", ws.Checkout+"/.", s.root)
	if out, err := cp.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("copying %s: %w: %s", ws.Checkout, err, out)
	}
	ok = true
	return s, nil
}

// Sandbox is one private copy of a repository.
type Sandbox struct {
	f       *Factory
	dir     string // holds repo/, home/, tmp/
	root    string
	base    string
	pathEnv string   // PATH of its commands: the env's bin directory, then Config.Path
	vars    []string // the env's variables, NAME=value

	mu      sync.Mutex
	running map[int]bool // process groups of commands in flight
	closed  bool
}

// Root implements sandbox.Sandbox.
func (s *Sandbox) Root() string { return s.root }

func (s *Sandbox) env() []string {
	return append([]string{
		"PATH=" + s.pathEnv, "HOME=" + filepath.Join(s.dir, "home"), "TMPDIR=" + filepath.Join(s.dir, "tmp"),
		"LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TERM=dumb", "PAGER=cat", "GIT_PAGER=cat",
		"GOCACHE=" + s.f.cfg.GoCache, "GOPATH=" + filepath.Join(s.dir, "home", "go"), "GOFLAGS=-mod=mod",
		"GOTOOLCHAIN=local", "GOPROXY=off", "GOTELEMETRY=off", "CGO_ENABLED=0",
		"PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "PIP_NO_INPUT=1",
	}, s.vars...)
}

// Exec implements sandbox.Sandbox.
func (s *Sandbox) Exec(ctx context.Context, command string) (sandbox.Output, error) {
	return s.run(ctx, command, s.f.cfg.OutputLimit)
}

func (s *Sandbox) run(ctx context.Context, command string, limit int) (sandbox.Output, error) {
	if _, err := os.Stat(s.root); err != nil {
		// The agent deleted the repository; commands start from the sandbox directory.
		if _, err := os.Stat(s.dir); err != nil {
			return sandbox.Output{}, sandbox.Died(err)
		}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return sandbox.Output{}, sandbox.Died(err)
	}
	cmd := exec.Command("bash", "-c", command)
	cmd.Dir = s.root
	if _, err := os.Stat(s.root); err != nil {
		cmd.Dir = s.dir
	}
	cmd.Env = s.env()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		pr.Close()
		pw.Close()
		return sandbox.Output{}, sandbox.Died(errors.New("sandbox closed"))
	}
	err = cmd.Start()
	if err == nil {
		s.running[cmd.Process.Pid] = true
	}
	s.mu.Unlock()
	pw.Close()
	if err != nil {
		pr.Close()
		return sandbox.Output{}, sandbox.Died(err)
	}
	pgid := cmd.Process.Pid
	capture := sandbox.NewCapture(limit)
	copied := make(chan struct{})
	go func() {
		io.Copy(capture, pr)
		pr.Close()
		close(copied)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-exited:
	case <-ctx.Done():
		syscall.Kill(-pgid, syscall.SIGKILL)
		werr = <-exited
	}
	// Whatever the command left running in its group goes with it.
	syscall.Kill(-pgid, syscall.SIGKILL)
	<-copied
	s.mu.Lock()
	delete(s.running, pgid)
	s.mu.Unlock()
	out := sandbox.Output{Text: capture.String(), ExitCode: cmd.ProcessState.ExitCode()}
	if ctx.Err() != nil {
		return out, ctx.Err()
	}
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return out, sandbox.Died(werr)
	}
	if capture.Dropped() > 0 && limit == s.f.cfg.DiffLimit {
		return out, fmt.Errorf("output larger than %d bytes", limit)
	}
	return out, nil
}

func (s *Sandbox) path(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(s.root, p)
}

// ReadFile implements sandbox.Sandbox.
func (s *Sandbox) ReadFile(ctx context.Context, p string, limit int64) ([]byte, error) {
	f, err := os.Open(s.path(p))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s is a directory", p)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w (limit %d bytes)", p, sandbox.ErrTooLarge, limit)
	}
	return data, nil
}

// WriteFile implements sandbox.Sandbox.
func (s *Sandbox) WriteFile(ctx context.Context, p string, data []byte) error {
	full := s.path(p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	return os.WriteFile(full, data, 0o644)
}

// Diff implements sandbox.Sandbox.
func (s *Sandbox) Diff(ctx context.Context) (string, error) {
	if _, err := os.Stat(filepath.Join(s.root, ".git")); err != nil {
		return "", sandbox.ErrNoRepository
	}
	out, err := s.run(ctx, sandbox.DiffScript(s.base), s.f.cfg.DiffLimit)
	switch {
	case err != nil:
		return "", fmt.Errorf("diff: %w", err)
	case out.ExitCode == 3:
		return "", sandbox.ErrNoRepository
	case out.ExitCode != 0:
		return "", fmt.Errorf("git diff exited %d: %s", out.ExitCode, out.Text)
	}
	return out.Text, nil
}

// Close kills anything still running and removes the sandbox's directory.
func (s *Sandbox) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for pgid := range s.running {
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	s.mu.Unlock()
	return removeAll(s.dir)
}

// removeAll removes dir even where the agent took write permission away.
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// RandomID returns a short random identifier (for run ids).
func RandomID() string { return strings.ToLower(rand.Text()[:10]) }

var _ sandbox.Factory = (*Factory)(nil)
