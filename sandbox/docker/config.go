package docker

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/client"

	"github.com/swerl/swerl/sandbox"
)

// Config configures the backend. Zero fields take the defaults in brackets.
type Config struct {
	// Resolver maps tasks to workspaces (required).
	Resolver sandbox.Resolver
	// Host is the daemon's address ["" = DOCKER_HOST, else the local socket].
	Host string
	// BaseImage runs tasks without an image of their own, with the task's checkout
	// copied to /testbed ["swerl-base:latest", built by scripts/build-base-image.sh].
	BaseImage string
	// RunID labels every container of this run [random].
	RunID string

	// Memory is each container's memory limit in bytes, swap included [2 GiB].
	Memory int64
	// PIDs is each container's process limit [512].
	PIDs int64
	// CPUs is each container's CPU quota [1.0].
	CPUs float64
	// CapAdd lists the capabilities added back after dropping ALL. nil means
	// CHOWN, DAC_OVERRIDE and FOWNER (root in the sandbox may then act on files that
	// task images or tar archives give to other users); an empty, non-nil slice
	// keeps none.
	CapAdd []string

	// OutputLimit is how many bytes of a command's output Exec keeps [1 MiB].
	OutputLimit int
	// DiffLimit is the largest patch Diff returns; a larger one is an error [16 MiB].
	DiffLimit int
	// KillGrace is how long Exec waits for a command it killed to go before it
	// restarts the container (processes gone, files kept) [5s].
	KillGrace time.Duration

	// MaxStarting bounds the sandboxes being created, filled and started at once [8].
	MaxStarting int
	// MaxRunning bounds the containers alive at once, warm ones included [256].
	MaxRunning int
	// CreateRate paces container creation, per second [20], with bursts of
	// CreateBurst [4].
	CreateRate  float64
	CreateBurst int
	// WarmPool is how many started sandboxes are kept ready per (image, task) [0 = no
	// pool].
	WarmPool int

	// LeaseTTL bounds how long a container outlives its owner [60s; at least 3s]. The
	// factory renews every live container's lease every LeaseTTL/3 (lease.go); a
	// container whose lease lapses exits and the daemon removes it. So after the
	// owning process dies, even by kill -9, each of its started containers is gone
	// within LeaseTTL + 2s (the lease in whole seconds and the once-a-second check)
	// plus the daemon's removal time, whether or not any swerl runs again.
	LeaseTTL time.Duration
	// MaxLifetime is the hard limit of a sandbox container's life, counted from its
	// creation and enforced inside it whatever its lease says: the container exits and
	// is removed when it passes [2h30m: the episode timeout of actors.DefaultConfig,
	// 2h, plus a grace]. Callers set it to their episode deadline plus a grace. A warm
	// container (WarmPool) gets warmMaxAge more, the longest it may wait in the pool.
	MaxLifetime time.Duration

	// Retry governs calls that fail with a transient daemon error [4 tries, from
	// 200ms doubling to 5s, jittered].
	Retry Retry
	// Logger receives the backend's logs [discarded].
	Logger hclog.Logger
}

// DefaultBaseImage is the image the backend uses when Config.BaseImage is empty.
const DefaultBaseImage = "swerl-base:latest"

// Defaults of Config.LeaseTTL and Config.MaxLifetime.
const (
	DefaultLeaseTTL    = 60 * time.Second
	DefaultMaxLifetime = 2*time.Hour + 30*time.Minute
	minLeaseTTL        = 3 * time.Second // renewals every second at the least
)

func (c *Config) setDefaults() {
	if c.BaseImage == "" {
		c.BaseImage = DefaultBaseImage
	}
	if c.RunID == "" {
		c.RunID = randomID()
	}
	if c.Memory <= 0 {
		c.Memory = 2 << 30
	}
	if c.PIDs <= 0 {
		c.PIDs = 512
	}
	if c.CPUs <= 0 {
		c.CPUs = 1
	}
	if c.CapAdd == nil {
		c.CapAdd = []string{"CHOWN", "DAC_OVERRIDE", "FOWNER"}
	}
	if c.OutputLimit <= 0 {
		c.OutputLimit = 1 << 20
	}
	if c.DiffLimit <= 0 {
		c.DiffLimit = 16 << 20
	}
	if c.KillGrace <= 0 {
		c.KillGrace = 5 * time.Second
	}
	if c.MaxStarting <= 0 {
		c.MaxStarting = 8
	}
	if c.MaxRunning <= 0 {
		c.MaxRunning = 256
	}
	if c.CreateRate <= 0 {
		c.CreateRate = 20
	}
	if c.CreateBurst <= 0 {
		c.CreateBurst = 4
	}
	if c.WarmPool < 0 {
		c.WarmPool = 0
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	c.LeaseTTL = max(c.LeaseTTL, minLeaseTTL)
	if c.MaxLifetime <= 0 {
		c.MaxLifetime = DefaultMaxLifetime
	}
	c.Retry.setDefaults()
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
}

// Retry is the policy for daemon calls that fail transiently (the daemon cannot be
// reached, or answers 5xx): up to Tries calls, the n-th retry after a delay drawn
// uniformly from [d/2, d] with d = Initial·2^(n-1) capped at Max. Errors that a retry
// cannot fix (404, 409, 400, cancelled contexts) return at once.
type Retry struct {
	Tries   int           // [4]
	Initial time.Duration // [200ms]
	Max     time.Duration // [5s]
}

func (r *Retry) setDefaults() {
	if r.Tries <= 0 {
		r.Tries = 4
	}
	if r.Initial <= 0 {
		r.Initial = 200 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 5 * time.Second
	}
}

// Delay is the wait before retry number n (1 for the first retry).
func (r Retry) Delay(n int) time.Duration {
	d := r.Initial
	for i := 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	return d/2 + rand.N(d/2+1)
}

// do calls fn until it succeeds, fails for good, or the tries are spent.
func (r Retry) do(ctx context.Context, log hclog.Logger, what string, fn func(context.Context) error) error {
	for try := 1; ; try++ {
		err := fn(ctx)
		if err == nil || !Transient(err) || try >= r.Tries || ctx.Err() != nil {
			return err
		}
		d := r.Delay(try)
		log.Debug("docker call failed, retrying", "call", what, "try", try, "after", d, "error", err)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}

// Transient reports whether err from the Docker client is worth retrying: the daemon
// could not be reached or answered with a server error. Not found, conflicts, bad
// requests and cancelled contexts are not.
func Transient(err error) bool {
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case client.IsErrConnectionFailed(err):
		return true
	case cerrdefs.IsNotFound(err), cerrdefs.IsConflict(err), cerrdefs.IsInvalidArgument(err),
		cerrdefs.IsAlreadyExists(err), cerrdefs.IsPermissionDenied(err), cerrdefs.IsUnauthorized(err),
		cerrdefs.IsNotImplemented(err), cerrdefs.IsFailedPrecondition(err), cerrdefs.IsNotModified(err):
		return false
	case cerrdefs.IsInternal(err), cerrdefs.IsUnavailable(err), cerrdefs.IsResourceExhausted(err),
		cerrdefs.IsUnknown(err), cerrdefs.IsDataLoss(err):
		return true
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}
