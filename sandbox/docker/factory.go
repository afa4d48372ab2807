package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/client"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"

	"github.com/swerl/swerl/sandbox"
)

// Labels every container of the backend carries.
const (
	LabelManaged = "swerl.managed" // "true"
	LabelRun     = "swerl.run"     // Config.RunID
	LabelHost    = "swerl.host"    // hostname of the process that created it
	LabelPID     = "swerl.pid"     // pid of the process that created it
	LabelTask    = "swerl.task"    // task id
	LabelEpisode = "swerl.episode" // "k3/g12/s4"; "" for a warm container
	LabelAttempt = "swerl.attempt" // attempt number; "" for a warm container
	LabelPurpose = "swerl.purpose" // sandbox.Purpose ("" agent, "grade"), or "pool"
)

// PurposePool is the swerl.purpose label of containers started for the warm pool.
// Docker labels cannot change, so a warm container keeps it (and an empty episode)
// once an episode takes it; the container is renamed after the episode instead.
const PurposePool = "pool"

// DefaultRoot is where the repository lies in a sandbox when the workspace does not
// say.
const DefaultRoot = "/testbed"

// ErrImageNotFound is returned by Start and New when an image is not on the daemon.
// Retrying does not help.
var ErrImageNotFound error = permanentError("image not found")

// permanentError is an error no retry fixes (errors.Is(err, sandbox.ErrPermanent)).
type permanentError string

func (e permanentError) Error() string        { return string(e) }
func (e permanentError) Is(target error) bool { return target == sandbox.ErrPermanent }

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("docker sandbox factory closed")

// Factory starts Docker sandboxes. Start may be called concurrently.
type Factory struct {
	cfg   Config
	cli   *client.Client
	log   hclog.Logger
	host  string
	nonce string // in container names, unique to this factory

	starting *semaphore.Weighted // create + copy + start
	running  *semaphore.Weighted // from create to removal
	waiting  atomic.Int64        // Starts blocked on running
	limiter  *rate.Limiter
	seq      atomic.Int64
	pool     *pool // nil without a warm pool

	activations activations // task images' preludes (activate.go)
	leases      leases      // live containers' leases, renewed (lease.go)

	testHookCreated func(id string) // called after a container is created (tests)
	testNoKill      bool            // killCommands fails at once (tests)

	bg       context.Context // ends at Close; the pool's work and Starts watch it
	stopBG   context.CancelFunc
	mu       sync.Mutex
	closed   bool
	work     tracker // Starts and pool fills in flight
	removals tracker // container removals in flight

	envs envImages // env images built or being built (envimage.go)
}

// New connects to the daemon, checks the base image, and removes what crashed runs
// on this host left (see Sweep).
func New(ctx context.Context, cfg Config) (*Factory, error) {
	if cfg.Resolver == nil {
		return nil, errors.New("docker sandbox: no resolver")
	}
	cfg.setDefaults()
	cli, err := dial(ctx, cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("docker sandbox: %w, or use --sandbox local", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.ImageInspect(pctx, cfg.BaseImage); err != nil {
		cli.Close()
		if cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("docker sandbox: %w: %s: build it with scripts/build-base-image.sh", ErrImageNotFound, cfg.BaseImage)
		}
		return nil, fmt.Errorf("docker sandbox: inspecting image %s: %w", cfg.BaseImage, err)
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	f := &Factory{
		cfg:      cfg,
		cli:      cli,
		log:      cfg.Logger.Named("docker"),
		host:     host,
		nonce:    randomID()[:6],
		starting: semaphore.NewWeighted(int64(cfg.MaxStarting)),
		running:  semaphore.NewWeighted(int64(cfg.MaxRunning)),
		limiter:  rate.NewLimiter(rate.Limit(cfg.CreateRate), cfg.CreateBurst),
	}
	f.leases.wake = make(chan struct{}, 1)
	f.bg, f.stopBG = context.WithCancel(context.WithoutCancel(ctx))
	if cfg.WarmPool > 0 {
		f.pool = newPool(f, cfg.WarmPool)
	}
	n, err := f.Sweep(ctx)
	if err != nil {
		f.stopBG()
		cli.Close()
		return nil, fmt.Errorf("docker sandbox: sweeping leftovers: %w", err)
	}
	if n > 0 {
		f.log.Info("removed containers left by crashed runs", "count", n)
	}
	f.log.Debug("docker sandbox ready", "daemon", cli.DaemonHost(), "api", cli.ClientVersion(), "run", cfg.RunID)
	return f, nil
}

// RunID returns the run id the factory labels its containers with.
func (f *Factory) RunID() string { return f.cfg.RunID }

// Sweep removes the containers of crashed runs: those labelled swerl.managed=true
// by a process of this host (swerl.host) whose pid (swerl.pid) is no longer alive.
// Containers of live processes, and of other hosts, are never touched. It returns
// how many it removed.
func (f *Factory) Sweep(ctx context.Context) (int, error) {
	return sweep(ctx, f.cli, f.cfg.Retry, f.log, f.host, SweepOptions{})
}

// Close stops the warm pool, removes its containers and waits for the Starts and
// removals in flight (a Start racing Close fails and removes what it created).
// Sandboxes already handed out stay theirs to close: their leases are renewed until
// they are. Close is idempotent.
func (f *Factory) Close(ctx context.Context) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return f.removals.wait(ctx)
	}
	f.closed = true
	f.mu.Unlock()
	f.stopBG()
	if err := f.work.wait(ctx); err != nil {
		return err
	}
	if f.pool != nil {
		for _, c := range f.pool.drain() {
			f.removeAsync(c.id)
		}
	}
	err := f.removals.wait(ctx)
	if err == nil {
		err = f.waitLeases(ctx)
	}
	// Only idle connections close: sandboxes still out may go on using the client.
	f.cli.Close()
	return err
}

// begin registers a Start or a pool fill; false once the factory is closed.
func (f *Factory) begin() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.work.add()
	return true
}

// Start resolves the task's workspace and returns a started sandbox holding its
// repository: a warm container when the pool has one, else a new container. A
// Start that fails or is cancelled removes what it created before it returns.
func (f *Factory) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Sandbox, error) {
	if !f.begin() {
		return nil, ErrClosed
	}
	defer f.work.done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(f.bg, cancel)
	defer stop()

	ws, err := f.cfg.Resolver.Resolve(ctx, spec.Task)
	if err != nil {
		return nil, fmt.Errorf("resolving task %s: %w", spec.Task.ID, err)
	}
	if ws.Image == "" && ws.Checkout == "" {
		return nil, fmt.Errorf("task %s: workspace has neither an image nor a checkout", spec.Task.ID)
	}
	want := f.want(ws, spec.Task.ID)
	if err := f.useEnvImage(ctx, ws, &want); err != nil {
		return nil, err
	}
	if f.pool != nil {
		if c := f.pool.take(ctx, want.key()); c != nil {
			f.pool.fill(want)
			s, err := f.activated(ctx, c, ws, spec)
			if err != nil {
				return nil, err
			}
			name := f.name(spec)
			if _, err := f.cli.ContainerRename(ctx, c.id, client.ContainerRenameOptions{NewName: name}); err == nil {
				s.name = name
			}
			f.log.Debug("sandbox from the warm pool", "ref", spec.Ref, "container", short(c.id))
			return s, nil
		}
	}
	c, err := f.create(ctx, want, spec, false)
	if err != nil {
		return nil, err
	}
	if f.pool != nil {
		f.pool.fill(want)
	}
	s, err := f.activated(ctx, c, ws, spec)
	if err != nil {
		return nil, err
	}
	f.log.Debug("sandbox started", "ref", spec.Ref, "container", short(c.id))
	return s, nil
}

// tracker counts operations in flight and lets Close wait for them. Unlike a
// WaitGroup, add may race wait.
type tracker struct {
	mu      sync.Mutex
	n       int
	waiters []chan struct{}
}

func (t *tracker) add() {
	t.mu.Lock()
	t.n++
	t.mu.Unlock()
}

func (t *tracker) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 {
		for _, w := range t.waiters {
			close(w)
		}
		t.waiters = nil
	}
}

func (t *tracker) wait(ctx context.Context) error {
	t.mu.Lock()
	if t.n == 0 {
		t.mu.Unlock()
		return nil
	}
	w := make(chan struct{})
	t.waiters = append(t.waiters, w)
	t.mu.Unlock()
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var _ sandbox.Factory = (*Factory)(nil)
