package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/swerl/swerl/sandbox"
)

// A workspace without an image of its own whose Env asks for packages, links or
// variables runs in an env image: the base image with the Env applied, built once
// and tagged EnvImageRepo:<16 hex of sha256(base image ID + Env.Hash())>, so equal
// environments on one base share an image, and a rebuilt base image gets new ones.
// Images carry LabelEnvName, LabelEnvHash and LabelEnvBase. An image already on
// the daemon is used as it is (whoever built it); a Factory builds a tag at most
// once at a time, and concurrent Starts wait for that one build. Env.PythonModules
// alone need no image (the base image's python3 either imports them or not); an
// image that is built checks them.
//
// The build runs a script in a container of the base image on the default bridge
// network (the sandboxes themselves have none): apt-get install of Packages from
// the base image's Debian mirror, a /usr/local/bin/<name> script per Link, an
// import check per Python module; then the container is committed with Vars in the
// image's environment, and removed whatever happened. The commands of a sandbox see
// Vars unless the backend's own environment (container.go's env) sets the same
// name.
const (
	EnvImageRepo  = "swerl-env"
	LabelEnvName  = "swerl.env.name" // Env.Name of the first Env the image was built for
	LabelEnvHash  = "swerl.env.hash" // Env.Hash()
	LabelEnvBase  = "swerl.env.base" // ID of the base image it was built on
	purposeEnvImg = "env-build"      // swerl.purpose of build containers
)

// envBuildTimeout bounds one image build.
const envBuildTimeout = 30 * time.Minute

// envImages holds the env image builds of a Factory.
type envImages struct {
	mu      sync.Mutex
	baseID  string               // ID of Config.BaseImage, looked up once
	flights map[string]*envBuild // builds in flight, by tag
	failed  map[string]error     // permanent build failures, by tag

	testHookBuild func(tag string) // called when a build starts (tests)
}

// envBuild is one build in flight: waiters share it, and the last one to leave
// cancels it.
type envBuild struct {
	done    chan struct{} // closed when err is set
	err     error
	waiters int
	cancel  context.CancelFunc
}

// needsEnvImage reports whether a workspace without an image runs in an env image.
func needsEnvImage(env sandbox.Env) bool {
	return len(env.Packages) > 0 || len(env.Links) > 0 || len(env.Vars) > 0
}

// useEnvImage points w at the env image of ws.Env when the workspace has no image
// of its own and its Env needs one, building the image if it is not there.
func (f *Factory) useEnvImage(ctx context.Context, ws sandbox.Workspace, w *want) error {
	if ws.Image != "" || !needsEnvImage(ws.Env) {
		return nil
	}
	ref, err := f.ensureEnvImage(ctx, ws.Env)
	if err != nil {
		return err
	}
	w.image = ref
	return nil
}

// EnsureEnvImage returns the image sandboxes of a workspace with env (and no
// image of its own) run in: Config.BaseImage when env needs no env image, else
// its env image, built first when the daemon does not have it. It may be called
// concurrently; calls for one image share one build, which is cancelled when every
// caller's context has ended: the last caller to leave returns once the build
// container is removed. Close cancels builds in flight too. A failed build is
// an error naming the environment, the image, the log's tail and the fix; it
// matches sandbox.ErrPermanent when no retry can fix it (a package apt does not
// know, a link target or Python module the packages do not provide, an invalid
// Env), and later calls of this Factory return it again without building.
func (f *Factory) EnsureEnvImage(ctx context.Context, env sandbox.Env) (string, error) {
	if !f.begin() {
		return "", ErrClosed
	}
	defer f.work.done()
	return f.ensureEnvImage(ctx, env)
}

// LookupEnvImage returns the image EnsureEnvImage would return and whether the
// daemon has it already (always true for Config.BaseImage); it builds nothing.
func (f *Factory) LookupEnvImage(ctx context.Context, env sandbox.Env) (ref string, ok bool, err error) {
	if !needsEnvImage(env) {
		return f.cfg.BaseImage, true, nil
	}
	tag, err := f.envTag(ctx, env)
	if err != nil {
		return "", false, err
	}
	ok, err = f.imageExists(ctx, tag)
	return tag, ok, err
}

// ensureEnvImage is EnsureEnvImage for a Start or a caller that has begun.
func (f *Factory) ensureEnvImage(ctx context.Context, env sandbox.Env) (string, error) {
	if !needsEnvImage(env) {
		return f.cfg.BaseImage, nil
	}
	tag, err := f.envTag(ctx, env)
	if err != nil {
		return "", err
	}
	if err := validateEnv(env); err != nil {
		return "", &envError{env: env.Name, image: tag, base: f.cfg.BaseImage, what: err.Error(),
			fix: "correct the environment's entry in the per-repository table", permanent: true}
	}
	e := &f.envs
	e.mu.Lock()
	if err := e.failed[tag]; err != nil {
		e.mu.Unlock()
		return "", err
	}
	e.mu.Unlock()
	if ok, err := f.imageExists(ctx, tag); err != nil {
		return "", err
	} else if ok {
		return tag, nil
	}

	e.mu.Lock()
	b := e.flights[tag]
	if b == nil {
		bctx, cancel := context.WithTimeout(f.bg, envBuildTimeout)
		b = &envBuild{done: make(chan struct{}), cancel: cancel}
		if e.flights == nil {
			e.flights = map[string]*envBuild{}
		}
		e.flights[tag] = b
		f.work.add()
		go func() {
			defer f.work.done()
			defer cancel()
			err := f.buildEnvImage(bctx, env, tag)
			e.mu.Lock()
			if e.flights[tag] == b {
				delete(e.flights, tag)
			}
			if errors.Is(err, sandbox.ErrPermanent) {
				if e.failed == nil {
					e.failed = map[string]error{}
				}
				e.failed[tag] = err
			}
			b.err = err
			e.mu.Unlock()
			close(b.done)
		}()
	}
	b.waiters++
	e.mu.Unlock()

	select {
	case <-b.done:
		if b.err != nil {
			return "", b.err
		}
		return tag, nil
	case <-ctx.Done():
		e.mu.Lock()
		b.waiters--
		last := b.waiters == 0
		if last {
			// Nobody wants it any more: stop it, and let the next caller start
			// afresh rather than join a build that is being torn down.
			b.cancel()
			if e.flights[tag] == b {
				delete(e.flights, tag)
			}
		}
		e.mu.Unlock()
		if last {
			// Like a cancelled Start, leave nothing behind: the build removes
			// its container before it ends.
			<-b.done
		}
		return "", ctx.Err()
	}
}

// envTag returns the env image tag of env on the factory's base image.
func (f *Factory) envTag(ctx context.Context, env sandbox.Env) (string, error) {
	id, err := f.baseImageID(ctx)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(id + env.Hash()))
	return EnvImageRepo + ":" + hex.EncodeToString(sum[:])[:16], nil
}

// baseImageID returns the ID of Config.BaseImage, looked up on first use.
func (f *Factory) baseImageID(ctx context.Context) (string, error) {
	e := &f.envs
	e.mu.Lock()
	id := e.baseID
	e.mu.Unlock()
	if id != "" {
		return id, nil
	}
	var r client.ImageInspectResult
	err := f.cfg.Retry.do(ctx, f.log, "image inspect", func(ctx context.Context) error {
		var err error
		r, err = f.cli.ImageInspect(ctx, f.cfg.BaseImage)
		return err
	})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return "", fmt.Errorf("%w: %s: build it with scripts/build-base-image.sh", ErrImageNotFound, f.cfg.BaseImage)
		}
		return "", fmt.Errorf("inspecting image %s: %w", f.cfg.BaseImage, err)
	}
	e.mu.Lock()
	e.baseID = r.ID
	e.mu.Unlock()
	return r.ID, nil
}

// imageExists reports whether the daemon has an image of that name.
func (f *Factory) imageExists(ctx context.Context, ref string) (bool, error) {
	err := f.cfg.Retry.do(ctx, f.log, "image inspect", func(ctx context.Context) error {
		_, err := f.cli.ImageInspect(ctx, ref)
		return err
	})
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	case ctx.Err() != nil:
		return false, ctx.Err()
	}
	return false, fmt.Errorf("inspecting image %s: %w", ref, err)
}

// buildEnvImage builds env's image as tag, unless the daemon has it by now. The
// build container is removed whatever happens.
func (f *Factory) buildEnvImage(ctx context.Context, env sandbox.Env, tag string) error {
	if ok, err := f.imageExists(ctx, tag); err != nil || ok {
		return err
	}
	baseID, err := f.baseImageID(ctx)
	if err != nil {
		return err
	}
	base, err := f.cli.ImageInspect(ctx, baseID)
	if err != nil {
		return fmt.Errorf("inspecting image %s: %w", f.cfg.BaseImage, err)
	}
	if h := f.envs.testHookBuild; h != nil {
		h(tag)
	}
	begin := time.Now()
	f.log.Info("building env image", "env", env.Name, "image", tag, "base", f.cfg.BaseImage)

	// The build container carries the labels Sweep looks for, so that a crashed
	// build is removed by the next run on this host.
	name := unsafeName.ReplaceAllString(fmt.Sprintf("swerl-%s-%s%d-env-%s", f.cfg.RunID, f.nonce, f.seq.Add(1),
		strings.TrimPrefix(tag, EnvImageRepo+":")), "_")
	buildLabels := map[string]string{
		LabelManaged: "true", LabelRun: f.cfg.RunID, LabelHost: f.host, LabelPID: strconv.Itoa(os.Getpid()),
		LabelPurpose: purposeEnvImg, LabelEnvHash: env.Hash(),
	}
	pids := f.cfg.PIDs
	opts := client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image:      baseID,
			Entrypoint: []string{"bash", "-c", envScript(env)},
			Cmd:        []string{},
			Labels:     buildLabels,
		},
		HostConfig: &container.HostConfig{
			LogConfig:     container.LogConfig{Type: "json-file"},
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
			Resources: container.Resources{
				Memory:     f.cfg.Memory,
				MemorySwap: f.cfg.Memory,
				PidsLimit:  &pids,
			},
		},
	}
	var id string
	defer func() {
		// Synchronous: a build that returns has left nothing behind.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		target := id
		if target == "" {
			target = name // a create whose answer was lost may still have made it
		}
		if err := f.removeContainer(rctx, target); err != nil {
			f.log.Warn("could not remove an env build container", "container", short(target), "error", err)
		}
	}()
	// The create runs to its end whatever happens to ctx (as in create): a request
	// cut off midway may still make the container, and its id is then unknown.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	r, err := f.cli.ContainerCreate(cctx, opts)
	cancel()
	if err == nil {
		id = r.ID
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("env image %s for %s: creating the build container from %s: %w", tag, envLabel(env), f.cfg.BaseImage, err)
	}
	// The client's wait goroutine sends its one answer on an unbuffered channel:
	// whatever path returns, the answer is taken.
	wctx, stopWait := context.WithCancel(ctx)
	wait := f.cli.ContainerWait(wctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	waited := false
	defer func() {
		stopWait()
		if !waited {
			select {
			case <-wait.Result:
			case <-wait.Error:
			}
		}
	}()
	if _, err := f.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("env image %s for %s: starting the build container: %w", tag, envLabel(env), err)
	}
	var code int64
	waited = true
	select {
	case res := <-wait.Result:
		code = res.StatusCode
		if res.Error != nil && res.Error.Message != "" {
			return fmt.Errorf("env image %s for %s: waiting for the build: %s", tag, envLabel(env), res.Error.Message)
		}
	case err := <-wait.Error:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("env image %s for %s: waiting for the build: %w", tag, envLabel(env), err)
	}
	if code != 0 {
		return f.envFailure(ctx, env, tag, id, code)
	}

	// The image keeps the base image's command and drops the build's labels
	// (the daemon merges the container's labels into the image's: blank ones
	// cannot mark a container created from the image as one of swerl's).
	labels := map[string]string{LabelEnvName: env.Name, LabelEnvHash: env.Hash(), LabelEnvBase: baseID}
	for k := range buildLabels {
		if _, ok := labels[k]; !ok {
			labels[k] = ""
		}
	}
	cfg := &container.Config{Labels: labels, Entrypoint: []string{}, Cmd: []string{}}
	if base.Config != nil {
		cfg.Entrypoint = append(cfg.Entrypoint, base.Config.Entrypoint...)
		cfg.Cmd = append(cfg.Cmd, base.Config.Cmd...)
	}
	for _, k := range slices.Sorted(maps.Keys(env.Vars)) {
		cfg.Env = append(cfg.Env, k+"="+env.Vars[k])
	}
	if _, err := f.cli.ContainerCommit(ctx, id, client.ContainerCommitOptions{
		Reference: tag,
		Comment:   "swerl env image for " + envLabel(env),
		Config:    cfg,
	}); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("env image %s for %s: committing the build container: %w", tag, envLabel(env), err)
	}
	f.log.Info("built env image", "env", env.Name, "image", tag, "seconds", time.Since(begin).Seconds())
	return nil
}
