package docker_test

import (
	"context"
	"fmt"
	"log"

	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/sandbox/docker"
	"github.com/swerl/swerl/sandbox/sandboxtest"
)

// A factory over one workspace, one sandbox, one command. (Not run by go test: it
// needs a Docker daemon and swerl-base:latest.)
func Example() {
	ctx := context.Background()
	res := sandboxtest.Resolver{Workspace: sandbox.Workspace{Checkout: "/path/to/repo", BaseCommit: "HEAD"}}
	f, err := docker.New(ctx, docker.Config{Resolver: res, WarmPool: 1})
	if err != nil {
		log.Fatal(err) // names the daemon or the missing image, and the fix
	}
	defer f.Close(ctx)
	sb, err := f.Start(ctx, sandboxtest.Spec("task-1"))
	if err != nil {
		log.Fatal(err)
	}
	defer sb.Close(ctx)
	out, err := sb.Exec(ctx, "git log --oneline | head -1")
	if err != nil {
		log.Fatal(err) // ctx's error, or one wrapping sandbox.ErrDied
	}
	fmt.Print(out.Text)
}
