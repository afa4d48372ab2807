package benchmarks

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/swerl/swerl/sandbox"
)

// Latencies is a sample of durations.
type Latencies []time.Duration

// Quantile returns the q-quantile (nearest rank) of l.
func (l Latencies) Quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// Median and P99 of l.
func (l Latencies) Median() time.Duration { return l.Quantile(0.5) }
func (l Latencies) P99() time.Duration    { return l.Quantile(0.99) }

func (l Latencies) String() string {
	return fmt.Sprintf("median %s, p99 %s (n=%d)", round(l.Median()), round(l.P99()), len(l))
}

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// SandboxTimes measures a backend: ready is the time from Start to a usable
// sandbox (n sandboxes, one at a time, each closed before the next; pause runs
// between them, e.g. to let a warm pool refill), exec the round trip of a trivial
// command (execs commands in one sandbox).
func SandboxTimes(ctx context.Context, f sandbox.Factory, spec sandbox.Spec, n, execs int, pause func()) (ready, execRT Latencies, err error) {
	for i := 0; i < n; i++ {
		if pause != nil {
			pause()
		}
		begin := time.Now()
		sb, err := f.Start(ctx, spec)
		if err != nil {
			return nil, nil, fmt.Errorf("start %d: %w", i, err)
		}
		ready = append(ready, time.Since(begin))
		if i == n-1 {
			for j := 0; j < execs; j++ {
				begin := time.Now()
				out, err := sb.Exec(ctx, "true")
				if err != nil || out.ExitCode != 0 {
					sb.Close(ctx)
					return nil, nil, fmt.Errorf("exec %d: %v (exit %d)", j, err, out.ExitCode)
				}
				execRT = append(execRT, time.Since(begin))
			}
		}
		if err := sb.Close(ctx); err != nil {
			return nil, nil, fmt.Errorf("close %d: %w", i, err)
		}
	}
	return ready, execRT, nil
}

// DockerCLITimes measures the docker CLI on the same daemon: `docker run --rm` of
// image running true (n times; the CLI's own equivalent of a cold sandbox with no
// repository copy), and `docker exec` of true in one running container (execs times).
func DockerCLITimes(ctx context.Context, image string, n, execs int) (run, execRT Latencies, err error) {
	docker := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	for i := 0; i < n; i++ {
		begin := time.Now()
		if _, err := docker("run", "--rm", "--network", "none", image, "true"); err != nil {
			return nil, nil, err
		}
		run = append(run, time.Since(begin))
	}
	id, err := docker("run", "-d", "--rm", "--network", "none", "--label", "swerl.managed=bench", image, "sleep", "600")
	if err != nil {
		return nil, nil, err
	}
	defer docker("rm", "-f", id)
	for i := 0; i < execs; i++ {
		begin := time.Now()
		if _, err := docker("exec", id, "true"); err != nil {
			return nil, nil, err
		}
		execRT = append(execRT, time.Since(begin))
	}
	return run, execRT, nil
}
