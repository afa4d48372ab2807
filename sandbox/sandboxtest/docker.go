package sandboxtest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// RequireDockerEnv is the variable that turns RequireDocker's skip into a failure;
// scripts/test.sh (README's test command) and .ci/run set it to 1.
const RequireDockerEnv = "SWERL_REQUIRE_DOCKER"

var (
	dockerOnce sync.Once
	dockerErr  error // nil: a daemon answers
)

// RequireDocker is the one gate of every test that talks to a Docker daemon. When no
// daemon answers a Ping (10 s), the test is skipped with the reason, or fails if
// SWERL_REQUIRE_DOCKER=1. When a daemon answers but one of images is missing, the
// test fails whatever the variable says: a skip there would hide a set-up error
// (build the image with scripts/build-base-image.sh).
func RequireDocker(t testing.TB, images ...string) {
	t.Helper()
	dockerOnce.Do(func() { dockerErr = pingDocker() })
	if dockerErr != nil {
		if os.Getenv(RequireDockerEnv) == "1" {
			t.Fatalf("%v, and %s=1 forbids skipping", dockerErr, RequireDockerEnv)
		}
		t.Skipf("skipped: %v (set %s=1 to make this a failure)", dockerErr, RequireDockerEnv)
	}
	if len(images) == 0 {
		return
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, img := range images {
		if _, err := cli.ImageInspect(ctx, img); err != nil {
			t.Fatalf("a Docker daemon answers but image %s is not there (%v): build it with scripts/build-base-image.sh (swerl-base) or scripts/build-official-test-image.sh (swerl-official-test)", img, err)
		}
	}
}

func pingDocker() error {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return fmt.Errorf("no Docker client: %w", err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return fmt.Errorf("no Docker daemon answers (%v)", err)
	}
	return nil
}
