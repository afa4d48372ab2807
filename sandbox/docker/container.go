package docker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/swerl/swerl/sandbox"
)

// want describes the container a workspace needs.
type want struct {
	image, root, checkout, task string
}

func (w want) key() poolKey { return poolKey{image: w.image, task: w.task} }

func (f *Factory) want(ws sandbox.Workspace, task string) want {
	w := want{image: ws.Image, root: ws.ImageRoot, task: task}
	if w.image == "" {
		w.image, w.checkout = f.cfg.BaseImage, ws.Checkout
	}
	if w.root == "" {
		w.root = DefaultRoot
	}
	return w
}

// ctr is a started container.
type ctr struct {
	id, name string
	root     string
	idle     string    // pid of the idle process, spared by the kill scripts
	created  time.Time // when create began (the pool's age limit)
}

func (f *Factory) sandbox(c *ctr, ws sandbox.Workspace, spec sandbox.Spec) *Sandbox {
	return &Sandbox{f: f, id: c.id, name: c.name, root: c.root, idle: c.idle, base: ws.BaseCommit, spec: spec}
}

// acquireRunning takes a slot of MaxRunning, evicting warm containers of other
// tasks when none is free.
func (f *Factory) acquireRunning(ctx context.Context) error {
	for {
		if f.running.TryAcquire(1) {
			return nil
		}
		if f.pool == nil || !f.pool.evict(ctx) {
			break
		}
	}
	f.waiting.Add(1)
	defer f.waiting.Add(-1)
	return f.running.Acquire(ctx, 1)
}

// create creates, fills and starts a container. With warm set it is for the pool:
// it takes a running slot only if one is free at once, and is labelled as such.
// Whatever fails, nothing is left behind.
func (f *Factory) create(ctx context.Context, w want, spec sandbox.Spec, warm bool) (*ctr, error) {
	if warm {
		if !f.running.TryAcquire(1) {
			return nil, errNoRoom
		}
	} else if err := f.acquireRunning(ctx); err != nil {
		return nil, err
	}
	if err := f.starting.Acquire(ctx, 1); err != nil {
		f.running.Release(1)
		return nil, err
	}
	defer f.starting.Release(1)
	if err := f.limiter.Wait(ctx); err != nil {
		f.running.Release(1)
		return nil, err
	}

	name := f.name(spec)
	labels := map[string]string{
		LabelManaged: "true", LabelRun: f.cfg.RunID, LabelHost: f.host, LabelPID: strconv.Itoa(os.Getpid()),
		LabelTask: w.task, LabelEpisode: episodeLabel(spec), LabelAttempt: strconv.Itoa(spec.Attempt),
		LabelPurpose: string(spec.Purpose),
	}
	if warm {
		name = f.warmName()
		labels[LabelEpisode], labels[LabelAttempt], labels[LabelPurpose] = "", "", PurposePool
	}
	created := time.Now()
	deadline := created.Add(f.cfg.MaxLifetime)
	if warm {
		deadline = deadline.Add(warmMaxAge)
	}
	init, pids := true, f.cfg.PIDs
	opts := client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image:      w.image,
			Entrypoint: f.leaseCmd(deadline),
			Cmd:        []string{},
			WorkingDir: w.root,
			Env:        env,
			Labels:     labels,
		},
		HostConfig: &container.HostConfig{
			// The lease loop's end removes the container: nothing of it outlives its
			// deadline or, by much, its owner (lease.go).
			AutoRemove:    true,
			NetworkMode:   "none",
			Init:          &init,
			SecurityOpt:   []string{"no-new-privileges"},
			CapDrop:       []string{"ALL"},
			CapAdd:        f.cfg.CapAdd,
			LogConfig:     container.LogConfig{Type: "none"},
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
			Resources: container.Resources{
				Memory:     f.cfg.Memory,
				MemorySwap: f.cfg.Memory,
				PidsLimit:  &pids,
				NanoCPUs:   int64(f.cfg.CPUs * 1e9),
			},
		},
	}
	// The create runs to its end whatever happens to ctx: a request cut off midway
	// may still create the container, and then its id must be known to remove it.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	var id string
	err := f.cfg.Retry.do(cctx, f.log, "container create", func(cctx context.Context) error {
		r, err := f.cli.ContainerCreate(cctx, opts)
		if cerrdefs.IsConflict(err) && id == "" {
			// An earlier try created it before its answer was lost.
			if r, ierr := f.cli.ContainerInspect(cctx, name, client.ContainerInspectOptions{}); ierr == nil && r.Container.Config != nil && r.Container.Config.Labels[LabelRun] == f.cfg.RunID {
				id = r.Container.ID
				return nil
			}
		}
		if err == nil {
			id = r.ID
			for _, w := range r.Warnings {
				f.log.Debug("container create warning", "container", short(id), "warning", w)
			}
		}
		return err
	})
	if err != nil {
		if id == "" {
			// A lost answer may still have created it: remove by name.
			f.removeContainer(cctx, name)
		}
		f.running.Release(1)
		if cerrdefs.IsNotFound(err) {
			hint := "pull it, or fix the task's docker_image"
			if w.image == f.cfg.BaseImage {
				hint = "build it with scripts/build-base-image.sh"
			}
			return nil, fmt.Errorf("%w: %s: %s", ErrImageNotFound, w.image, hint)
		}
		return nil, fmt.Errorf("creating a container from %s: %w", w.image, err)
	}
	c := &ctr{id: id, name: name, root: w.root, created: created}
	if f.testHookCreated != nil {
		f.testHookCreated(id)
	}
	ok := false
	defer func() {
		if !ok {
			// Synchronous, so that a failed or cancelled Start has left nothing
			// when it returns.
			f.remove(context.WithoutCancel(ctx), id)
		}
	}()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// Started at once, before the checkout is copied in: until it starts, no lease
	// bounds a container, and one left created by an owner that died stays until a
	// sweep.
	if err := f.cfg.Retry.do(ctx, f.log, "container start", func(ctx context.Context) error {
		_, err := f.cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
		return err
	}); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("starting container %s: %w", short(id), err)
	}
	f.holdLease(id, deadline)
	if w.checkout != "" {
		if err := f.copyCheckout(ctx, id, w.checkout, w.root); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("copying %s into container %s: %w", w.checkout, short(id), err)
		}
	}
	idle, err := f.probe(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("container %s does not run commands: %w", short(id), err)
	}
	c.idle = idle
	ok = true
	return c, nil
}

var errNoRoom = errors.New("no free running slot")

// env is what every command sees on top of the image's environment (whose PATH
// stays: task images put their tools there).
var env = []string{
	"HOME=/root", "TMPDIR=/tmp", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TERM=dumb", "PAGER=cat", "GIT_PAGER=cat",
	"EMAIL=agent@swerl.invalid", // lets `git commit` work without a configured identity
	"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=safe.directory", "GIT_CONFIG_VALUE_0=*",
	"GOCACHE=/root/.cache/go-build", "GOPATH=/tmp/go", // the base image ships its Go build cache warm
	"GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOPROXY=off",
	"GOTELEMETRY=off", "CGO_ENABLED=0",
	"PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "PIP_NO_INPUT=1",
}

// remove force-removes a container of this factory, ends its lease renewals and
// frees its running slot. A container already gone (its lease or deadline passed:
// the daemon removes it) or being removed counts as removed.
func (f *Factory) remove(ctx context.Context, id string) error {
	f.removals.add()
	defer f.removals.done()
	f.dropLease(id)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	err := f.removeContainer(ctx, id)
	if err != nil {
		f.log.Warn("could not remove a container", "container", short(id), "error", err)
	}
	f.running.Release(1)
	return err
}

// removeAsync removes a container in the background (Close waits for it).
func (f *Factory) removeAsync(id string) {
	f.removals.add()
	go func() {
		defer f.removals.done()
		f.remove(context.Background(), id)
	}()
}

// removeContainer force-removes a container, retrying transient errors; one
// already gone counts as removed.
func (f *Factory) removeContainer(ctx context.Context, id string) error {
	return removeContainer(ctx, f.cli, f.cfg.Retry, f.log, id)
}

// removeContainer force-removes a container, retrying transient errors. One already
// gone counts as removed; one being removed (the daemon removes a container created
// with AutoRemove once it exits) is waited for while ctx lasts, and counts as
// removed then too.
func removeContainer(ctx context.Context, cli *client.Client, retry Retry, log hclog.Logger, id string) error {
	err := retry.do(ctx, log, "container remove", func(ctx context.Context) error {
		_, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		return err
	})
	if err == nil || cerrdefs.IsNotFound(err) {
		return nil
	}
	if cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress") {
		for wait := 10 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
			if _, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err != nil {
				if !cerrdefs.IsNotFound(err) && ctx.Err() == nil {
					log.Debug("waiting for a container's removal", "container", short(id), "error", err)
				}
				return nil
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil
			}
		}
	}
	return err
}

func episodeLabel(spec sandbox.Spec) string {
	k := spec.Ref.Key()
	return fmt.Sprintf("k%d/g%d/s%d", k.Iteration, k.Group, k.Sample)
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// name returns a container name unique to this factory, naming the episode.
func (f *Factory) name(spec sandbox.Spec) string {
	k := spec.Ref.Key()
	p := ""
	if spec.Purpose != sandbox.ForAgent {
		p = "-" + string(spec.Purpose)
	}
	return unsafeName.ReplaceAllString(fmt.Sprintf("swerl-%s-%s%d-k%d-g%d-s%d-a%d%s",
		f.cfg.RunID, f.nonce, f.seq.Add(1), k.Iteration, k.Group, k.Sample, spec.Attempt, p), "_")
}

func (f *Factory) warmName() string {
	return unsafeName.ReplaceAllString(fmt.Sprintf("swerl-%s-%s%d-warm", f.cfg.RunID, f.nonce, f.seq.Add(1)), "_")
}

// short abbreviates a container id for messages.
func short(id string) string {
	if len(id) > 12 && !strings.Contains(id, "-") {
		return id[:12]
	}
	return id
}

func randomID() string { return strings.ToLower(rand.Text()[:10]) }

// abs returns p inside the container, relative paths taken from root.
func abs(root, p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join(root, p)
}
