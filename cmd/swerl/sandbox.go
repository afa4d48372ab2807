package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/swerl/swerl/sandbox/docker"
)

const sandboxUsage = `usage: swerl sandbox sweep [--all] [--run ID] [--docker-host URL]

sweep removes the Docker sandbox containers (label swerl.managed=true) left on this
host by runs that are gone: those whose creating process (labels swerl.host,
swerl.pid) no longer exists. Containers of live runs, and of other hosts, stay.
Left alone, a gone run's containers remove themselves within their lease (60s by
default, rollout --sandbox-lease) and a few seconds; sweep removes them now, and
removes containers created but never started, which no lease bounds. Every swerl
that opens Docker sandboxes sweeps the same way when it starts.

--all removes every swerl container on the daemon instead, whatever run or host
made it: it also kills the sandboxes of live runs, whose episodes then fail.

`

func sandboxCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "sweep" {
		fmt.Fprint(stderr, sandboxUsage)
		if len(args) == 0 {
			return errors.New("sandbox: missing subcommand (sweep)")
		}
		return fmt.Errorf("sandbox: unknown subcommand %q", args[0])
	}
	fs := flag.NewFlagSet("sandbox sweep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, sandboxUsage); fs.PrintDefaults() }
	all := fs.Bool("all", false, "remove every swerl container on the daemon, whatever run or host made it: this also kills the sandboxes of live runs, whose episodes then fail")
	run := fs.String("run", "", "only containers of this run id (label swerl.run)")
	host := fs.String("docker-host", "", "Docker daemon address (default $DOCKER_HOST, else the local socket)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("sandbox sweep: unexpected arguments %q", fs.Args())
	}
	n, err := docker.Sweep(ctx, docker.SweepOptions{Host: *host, All: *all, Run: *run})
	if err != nil {
		return fmt.Errorf("sandbox sweep: %w", err)
	}
	what := "left by runs that are gone"
	if *all {
		what = "(--all: live runs' too)"
	}
	fmt.Fprintf(stdout, "removed %d container(s) %s\n", n, what)
	return nil
}
