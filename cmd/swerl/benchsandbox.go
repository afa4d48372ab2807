package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/swerl/swerl/benchmarks"
	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/swe/builtin"
)

// benchSandbox measures sandbox ready time and exec round trip of the backends, next
// to the docker CLI on the same daemon.
func benchSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	backends := fs.String("sandbox", "local,docker", "backends to measure (comma-separated)")
	n := fs.Int("count", 30, "sandboxes started per measurement")
	execs := fs.Int("execs", 200, "exec round trips per measurement")
	taskID := fs.String("task", "", "built-in task whose repository is copied (default: the first)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tasks, err := builtin.Tasks()
	if err != nil {
		return err
	}
	snaps, err := builtin.Snapshots()
	if err != nil {
		return err
	}
	task := tasks[0]
	for _, t := range tasks {
		if t.InstanceID == *taskID {
			task = t
		}
	}
	spec := sandbox.Spec{Task: task.Ref(), Ref: messages.EpisodeRef{TaskID: task.InstanceID}, Attempt: 1}
	dir, err := os.MkdirTemp("", "swerl-bench-checkouts-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	type row struct {
		name        string
		ready, exec benchmarks.Latencies
	}
	var rows []row
	for _, b := range splitList(*backends) {
		for _, warm := range warmModes(b) {
			wc := engine.WorldConfig{Tasks: tasks, Snapshots: snaps, Sandbox: b, CheckoutDir: dir}
			wc.Docker.WarmPool = warm
			w, err := engine.OpenWorld(ctx, wc)
			if err != nil {
				return fmt.Errorf("%s: %w", b, err)
			}
			name := b + " (cold)"
			var pause func()
			if warm > 0 {
				name = b + " (warm pool)"
				pause = func() { waitWarm(ctx, w, task.Ref()) }
			}
			fmt.Fprintf(stderr, "  measuring %s ...\n", name)
			ready, ex, err := benchmarks.SandboxTimes(ctx, w.Backend, spec, *n, *execs, pause)
			w.Close(context.WithoutCancel(ctx))
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			rows = append(rows, row{name, ready, ex})
		}
		if b == engine.SandboxDocker {
			fmt.Fprintf(stderr, "  measuring the docker CLI ...\n")
			run, ex, err := benchmarks.DockerCLITimes(ctx, engine.DefaultDockerImage, *n, *execs)
			if err != nil {
				return err
			}
			rows = append(rows, row{"docker CLI: run --rm / exec", run, ex})
		}
	}
	fmt.Fprintf(stdout, "swerl bench sandbox: task %s, %d sandboxes, %d exec round trips of `true`\n\n", task.InstanceID, *n, *execs)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "backend\tready median\tready p99\texec median\texec p99\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", r.name, fmtDur(r.ready.Median()), fmtDur(r.ready.P99()), fmtDur(r.exec.Median()), fmtDur(r.exec.P99()))
	}
	return tw.Flush()
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// warmModes are the pool sizes measured for a backend: docker cold and warm.
func warmModes(backend string) []int {
	if backend == engine.SandboxDocker {
		return []int{0, 1}
	}
	return []int{0}
}

// waitWarm waits until the pool holds a ready sandbox for task (at most 30 s).
func waitWarm(ctx context.Context, w *engine.World, task messages.TaskRef) {
	f, ok := w.Backend.(interface {
		WaitWarm(context.Context, messages.TaskRef, int) error
	})
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	f.WaitWarm(ctx, task, 1)
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0fµs", float64(d)/1e3)
}
