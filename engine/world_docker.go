package engine

import (
	"context"

	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/sandbox/docker"
)

// DockerConfig configures the docker backend; its Resolver is filled in by OpenWorld.
type DockerConfig = docker.Config

// DefaultDockerImage is the base image of tasks that name none.
const DefaultDockerImage = docker.DefaultBaseImage

func openDocker(ctx context.Context, cfg DockerConfig, res sandbox.Resolver) (sandbox.Factory, func(context.Context) error, error) {
	cfg.Resolver = res
	f, err := docker.New(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}
