package docker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/sandbox/sandboxtest"
)

// The envs of these tests set SWERL_ENV_TEST, so their hashes (and images) are
// theirs alone: the tests remove the images they build and never touch those of
// real environments.

// envFactory returns a factory whose workspace has env, counting the env image
// builds it starts.
func envFactory(t *testing.T, env sandbox.Env) (*Factory, *atomic.Int64) {
	t.Helper()
	var builds atomic.Int64
	f := newFactory(t, func(c *Config) {
		r := c.Resolver.(sandboxtest.Resolver)
		r.Workspace.Env = env
		c.Resolver = r
	})
	f.envs.testHookBuild = func(string) { builds.Add(1) }
	return f, &builds
}

// removeEnvImage removes a test's env image now (so that the test builds it) and
// at the test's end, after its sandboxes and factories are gone.
func removeEnvImage(t *testing.T, f *Factory, env sandbox.Env) string {
	t.Helper()
	if env.Vars["SWERL_ENV_TEST"] == "" {
		t.Fatal("test envs must set SWERL_ENV_TEST")
	}
	tag, _, err := f.LookupEnvImage(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	cli := testClient(t)
	rm := func() {
		_, err := cli.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{PruneChildren: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("removing test image %s: %v", tag, err)
		}
	}
	rm()
	t.Cleanup(rm)
	return tag
}

func TestEnvImageBuiltOnceAndReused(t *testing.T) {
	env := sandbox.Env{
		Name:     "test/env",
		Packages: []string{"python3-mpmath"},
		Links:    map[string]string{"python": "python3", "swerl-pytest": "python3 -m pytest"},
		Vars:     map[string]string{"SWERL_ENV_TEST": "1"},
	}
	requireDocker(t)
	probe, _ := envFactory(t, env)
	tag := removeEnvImage(t, probe, env)

	f, builds := envFactory(t, env)
	// Two Starts at once wait for one build.
	begin := time.Now()
	var wg sync.WaitGroup
	sbs := make([]sandbox.Sandbox, 2)
	errs := make([]error, 2)
	for i := range sbs {
		wg.Go(func() { sbs[i], errs[i] = f.Start(context.Background(), sandboxtest.Spec("t1")) })
	}
	wg.Wait()
	t.Logf("two Starts with a fresh build of %s: %.1fs", tag, time.Since(begin).Seconds())
	for i, sb := range sbs {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		t.Cleanup(func() { sb.Close(context.Background()) })
	}
	if n := builds.Load(); n != 1 {
		t.Fatalf("two concurrent Starts built the env image %d times, want 1", n)
	}
	s := sbs[0].(*Sandbox)
	if out := mustRun(t, s, "python -c 'import mpmath; print(mpmath.__name__)'"); strings.TrimSpace(out) != "mpmath" {
		t.Errorf("python -c 'import mpmath' printed %q", out)
	}
	if out := mustRun(t, s, "echo $SWERL_ENV_TEST"); out != "1\n" {
		t.Errorf("echo $SWERL_ENV_TEST printed %q, want 1", out)
	}
	if out := mustRun(t, s, "test -x /usr/local/bin/python && cat /usr/local/bin/python"); !strings.Contains(out, `exec /usr/bin/python3 "$@"`) {
		t.Errorf("/usr/local/bin/python is %q", out)
	}
	if out := mustRun(t, s, "swerl-pytest --version 2>&1"); !strings.Contains(out, "pytest") {
		t.Errorf("swerl-pytest --version printed %q", out)
	}
	if out := mustRun(t, s, "cat a.txt && git log --format=%H"); !strings.HasPrefix(out, "one\ntwo\n") || len(out) != len("one\ntwo\n")+41 {
		t.Errorf("the checkout in the env image: %q", out)
	}
	if out := run(t, s, "getent hosts deb.debian.org || echo offline"); !strings.Contains(out.Text, "offline") {
		t.Errorf("a sandbox in an env image reaches the network: %q", out.Text)
	}

	cli := testClient(t)
	img, err := cli.ImageInspect(context.Background(), tag)
	if err != nil {
		t.Fatal(err)
	}
	base, err := cli.ImageInspect(context.Background(), DefaultBaseImage)
	if err != nil {
		t.Fatal(err)
	}
	labels := img.Config.Labels
	if labels[LabelEnvName] != "test/env" || labels[LabelEnvHash] != env.Hash() || labels[LabelEnvBase] != base.ID {
		t.Errorf("env image labels %v, want name test/env, hash %s, base %s", labels, env.Hash(), base.ID)
	}
	if labels[LabelManaged] != "" || labels[LabelPID] != "" || labels[LabelRun] != "" {
		t.Errorf("the build container's labels reached the image: %v", labels)
	}
	if strings.Join(img.Config.Cmd, " ") != strings.Join(base.Config.Cmd, " ") || len(img.Config.Entrypoint) != 0 {
		t.Errorf("env image command %q entrypoint %q, want the base image's %q", img.Config.Cmd, img.Config.Entrypoint, base.Config.Cmd)
	}

	// Another Start of this factory, and a Start of a new factory (another
	// process, as far as the daemon can tell), use the image as it is.
	start(t, f, "t2")
	g, gBuilds := envFactory(t, env)
	sg := start(t, g, "t3")
	if n, m := builds.Load(), gBuilds.Load(); n != 1 || m != 0 {
		t.Errorf("builds after the image existed: first factory %d (want 1), second %d (want 0)", n, m)
	}
	if out := mustRun(t, sg, "echo $SWERL_ENV_TEST; python -c 'import mpmath'"); out != "1\n" {
		t.Errorf("second factory's sandbox: %q", out)
	}
	again, err := cli.ImageInspect(context.Background(), tag)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != img.ID || again.Created != img.Created {
		t.Errorf("the image was rebuilt: %s (%s), first %s (%s)", again.ID, again.Created, img.ID, img.Created)
	}
	begin = time.Now()
	ref, err := g.EnsureEnvImage(context.Background(), env)
	if err != nil || ref != tag {
		t.Errorf("EnsureEnvImage = %q, %v; want %q", ref, err, tag)
	}
	t.Logf("EnsureEnvImage of the existing image: %v", time.Since(begin))
}

func TestEnvImageUnknownPackageIsPermanent(t *testing.T) {
	env := sandbox.Env{
		Name:     "test/missing",
		Packages: []string{"python3-mpmath", "swerl-no-such-package"},
		Vars:     map[string]string{"SWERL_ENV_TEST": "missing"},
	}
	requireDocker(t)
	f, builds := envFactory(t, env)
	removeEnvImage(t, f, env)
	_, err := f.Start(context.Background(), sandboxtest.Spec("t1"))
	if err == nil {
		t.Fatal("Start in an env with a package that does not exist succeeded")
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, sandbox.ErrPermanent) {
		t.Errorf("error is not permanent: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"swerl-no-such-package", "test/missing", EnvImageRepo + ":", "fix:", "Unable to locate package"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(strings.SplitN(msg, "\n", 2)[0], "python3-mpmath") {
		t.Errorf("error blames a package that exists: %v", err)
	}
	// The failure is remembered: no second build.
	if _, err2 := f.Start(context.Background(), sandboxtest.Spec("t2")); !errors.Is(err2, sandbox.ErrPermanent) || builds.Load() != 1 {
		t.Errorf("second Start: %v after %d builds, want the same permanent error after 1", err2, builds.Load())
	}
}

func TestEnvImageMissingLinkTarget(t *testing.T) {
	env := sandbox.Env{
		Name:  "test/link",
		Links: map[string]string{"frob": "swerl-no-such-command --flag"},
		Vars:  map[string]string{"SWERL_ENV_TEST": "link"},
	}
	requireDocker(t)
	f, _ := envFactory(t, env)
	removeEnvImage(t, f, env)
	_, err := f.EnsureEnvImage(context.Background(), env)
	if err == nil || !errors.Is(err, sandbox.ErrPermanent) ||
		!strings.Contains(strings.SplitN(err.Error(), "\n", 2)[0], "link frob -> swerl-no-such-command --flag: command swerl-no-such-command not found") {
		t.Fatalf("EnsureEnvImage with a link to nothing: %v", err)
	}
}

func TestEnvImageInvalidEnv(t *testing.T) {
	requireDocker(t)
	f, builds := envFactory(t, sandbox.Env{})
	for _, env := range []sandbox.Env{
		{Name: "bad", Packages: []string{"python3-mpmath; rm -rf /"}},
		{Name: "bad", Links: map[string]string{"../python": "python3"}},
		{Name: "bad", Vars: map[string]string{"A-B": "1"}},
	} {
		if _, err := f.EnsureEnvImage(context.Background(), env); !errors.Is(err, sandbox.ErrPermanent) || !strings.Contains(err.Error(), "bad") {
			t.Errorf("EnsureEnvImage(%+v) = %v, want a permanent error", env, err)
		}
	}
	if builds.Load() != 0 {
		t.Errorf("invalid envs started %d builds", builds.Load())
	}
}

func TestEnvImageNotNeeded(t *testing.T) {
	for _, env := range []sandbox.Env{{}, {Name: "test/modules", PythonModules: []string{"pytest"}}} {
		f, builds := envFactory(t, env)
		s := start(t, f, "t1")
		r, err := testClient(t).ContainerInspect(context.Background(), s.id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Container.Config.Image; got != DefaultBaseImage {
			t.Errorf("env %+v: sandbox runs in %s, want the base image %s", env, got, DefaultBaseImage)
		}
		if ref, err := f.EnsureEnvImage(context.Background(), env); ref != DefaultBaseImage || err != nil {
			t.Errorf("EnsureEnvImage(%+v) = %q, %v; want the base image", env, ref, err)
		}
		if builds.Load() != 0 {
			t.Errorf("env %+v built an image", env)
		}
	}
}

func TestEnvImageCancelRemovesBuildContainer(t *testing.T) {
	env := sandbox.Env{
		Name:     "test/cancel",
		Packages: []string{"python3-mpmath"},
		Vars:     map[string]string{"SWERL_ENV_TEST": "cancel"},
	}
	requireDocker(t)
	f, _ := envFactory(t, env)
	tag := removeEnvImage(t, f, env)
	cli := testClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := f.Start(ctx, sandboxtest.Spec("t1"))
		done <- err
	}()
	waitForBuildContainer(t, cli, f.RunID())
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Start: %v", err)
	}
	if left := buildContainers(t, cli, f.RunID()); len(left) > 0 {
		t.Errorf("build containers left after a cancelled Start returned: %v", left)
	}
	if _, err := cli.ImageInspect(context.Background(), tag); !cerrdefs.IsNotFound(err) {
		t.Errorf("a cancelled build left image %s (%v)", tag, err)
	}
}

func TestEnvImageCloseCancelsTheBuild(t *testing.T) {
	env := sandbox.Env{
		Name:     "test/close",
		Packages: []string{"python3-mpmath"},
		Vars:     map[string]string{"SWERL_ENV_TEST": "close"},
	}
	requireDocker(t)
	f, _ := envFactory(t, env)
	removeEnvImage(t, f, env)
	cli := testClient(t)
	done := make(chan error, 1)
	go func() {
		_, err := f.EnsureEnvImage(context.Background(), env)
		done <- err
	}()
	waitForBuildContainer(t, cli, f.RunID())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if left := buildContainers(t, cli, f.RunID()); len(left) > 0 {
		t.Errorf("build containers left after Close returned: %v", left)
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("EnsureEnvImage cut off by Close: %v", err)
	}
	if _, err := f.EnsureEnvImage(context.Background(), env); !errors.Is(err, ErrClosed) {
		t.Errorf("EnsureEnvImage after Close: %v", err)
	}
}

// waitForBuildContainer returns once a build container of the run exists.
func waitForBuildContainer(t *testing.T, cli *client.Client, run string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for len(buildContainers(t, cli, run)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no build container appeared")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// buildContainers lists a run's env build containers (any state).
func buildContainers(t *testing.T, cli *client.Client, run string) []string {
	t.Helper()
	return runContainers(t, cli, run, LabelPurpose+"="+purposeEnvImg)
}
