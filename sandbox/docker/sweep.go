package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/client"
)

// SweepOptions says which containers Sweep removes.
type SweepOptions struct {
	// Host is the daemon's address ["" = DOCKER_HOST, else the local socket].
	Host string
	// All removes every container labelled swerl.managed=true, whatever process or
	// host made it: live runs' sandboxes too, which ends their episodes.
	All bool
	// Run, when set, limits the sweep to the containers labelled with this run id.
	Run string
	// Retry governs daemon calls that fail transiently [as in Config].
	Retry Retry
	// Logger receives the sweep's logs [discarded].
	Logger hclog.Logger
}

// Sweep connects to the daemon and removes swerl's leftover containers: by default
// those created by a process of this host that is no longer alive (as
// Factory.Sweep), with All every swerl container. Containers created but never
// started, which no lease bounds, go too. It returns how many it removed; an error
// names the daemon when none answers.
func Sweep(ctx context.Context, opts SweepOptions) (int, error) {
	opts.Retry.setDefaults()
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	cli, err := dial(ctx, opts.Host)
	if err != nil {
		return 0, fmt.Errorf("docker sandbox: %w", err)
	}
	defer cli.Close()
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	n, err := sweep(ctx, cli, opts.Retry, opts.Logger.Named("docker"), host, opts)
	if err != nil {
		return n, fmt.Errorf("docker sandbox: sweeping: %w", err)
	}
	return n, nil
}

// dial connects to the daemon at host ("" = DOCKER_HOST, else the local socket) and
// checks that it answers; the error says so when it does not.
func dial(ctx context.Context, host string) (*client.Client, error) {
	opts := []client.Opt{client.FromEnv}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	cli, err := client.New(opts...)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("no Docker daemon answers at %s (%v): start dockerd", cli.DaemonHost(), err)
	}
	return cli, nil
}

// sweep removes the swerl containers that opts selects, host being this host's
// name: without opts.All, only those of host whose creating process is dead.
func sweep(ctx context.Context, cli *client.Client, retry Retry, log hclog.Logger, host string, opts SweepOptions) (int, error) {
	labels := []string{LabelManaged + "=true"}
	if !opts.All {
		labels = append(labels, LabelHost+"="+host)
	}
	if opts.Run != "" {
		labels = append(labels, LabelRun+"="+opts.Run)
	}
	var list client.ContainerListResult
	err := retry.do(ctx, log, "container list", func(ctx context.Context) error {
		var err error
		list, err = cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", labels...)})
		return err
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range list.Items {
		if !opts.All {
			pid, err := strconv.Atoi(c.Labels[LabelPID])
			if err != nil || pid <= 0 || alive(pid) {
				continue
			}
		}
		if err := removeContainer(ctx, cli, retry, log, c.ID); err != nil {
			log.Warn("could not remove a leftover container", "container", short(c.ID), "error", err)
			continue
		}
		n++
	}
	return n, nil
}

// alive reports whether a process with this pid exists on this host.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
