package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/swe"
)

const tasksUsage = `usage: swerl tasks validate FILE|builtin [flags]

Grades every task's gold patch (must resolve) and the empty patch (must not) in real
sandboxes, prints a table and exits non-zero on any wrong result or bad line.
`

func tasksCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "validate" {
		fmt.Fprint(stderr, tasksUsage)
		return errors.New("tasks: want 'tasks validate FILE'")
	}
	fs := flag.NewFlagSet("tasks validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	backend := fs.String("sandbox", engine.SandboxLocal, "sandbox backend: local or docker")
	conc := fs.Int("concurrency", 4, "tasks graded at once")
	timeout := fs.Duration("timeout", 10*time.Minute, "limit for one test run")
	mirror := fs.String("repos", "", "directory of local clones for tasks that are not built in (owner__name)")
	checkouts := fs.String("checkouts", "", "directory for prepared task repositories (default: user cache)")
	var file string
	rest := args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		file, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	}
	if file == "" {
		fmt.Fprint(stderr, tasksUsage)
		return errors.New("tasks validate: give a task file (JSONL) or 'builtin'")
	}
	tasks, snaps, loadErr := engine.LoadTaskFile(file)
	if loadErr != nil {
		fmt.Fprintf(stderr, "%v\n", loadErr)
		if len(tasks) == 0 {
			return fmt.Errorf("tasks validate: no valid task in %s", file)
		}
	}
	w, err := engine.OpenWorld(ctx, engine.WorldConfig{Tasks: tasks, Snapshots: snaps, Sandbox: *backend,
		CheckoutDir: *checkouts, Mirror: *mirror, TestTimeout: *timeout})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		w.Close(cctx)
	}()
	results := validateTasks(ctx, w, *conc, stderr)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tLANG\tLEVEL\tGOLD\tEMPTY\tSECONDS\tDETAIL")
	var goldOK, emptyOK, bad int
	for _, r := range results {
		lang, level := metaOf(r.task)
		detail := ""
		if !r.gold.ok() {
			detail = "gold: " + r.gold.detail()
		} else if !r.empty.ok() {
			detail = "empty: " + r.empty.detail()
		}
		if r.gold.ok() {
			goldOK++
		}
		if r.empty.ok() {
			emptyOK++
		}
		if !r.gold.ok() || !r.empty.ok() {
			bad++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.1f\t%s\n", r.task.InstanceID, lang, level, r.gold.mark(), r.empty.mark(),
			r.elapsed.Seconds(), oneLine(detail, 120))
	}
	tw.Flush()
	n := len(results)
	fmt.Fprintf(stdout, "\n%s (%s sandbox): gold resolved %d/%d (%.0f%%), empty resolved %d/%d (%.0f%%)\n", file, *backend,
		goldOK, n, pct(goldOK, n), n-emptyOK, n, pct(n-emptyOK, n))
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case bad > 0:
		return fmt.Errorf("tasks validate: %d of %d tasks gave a wrong result", bad, n)
	case loadErr != nil:
		return fmt.Errorf("tasks validate: %s has bad lines (listed above)", file)
	}
	return nil
}

type gradeOutcome struct {
	want    bool // resolved expected
	verdict swe.Verdict
	err     error
}

func (g gradeOutcome) ok() bool { return g.err == nil && g.verdict.Resolved == g.want }

func (g gradeOutcome) mark() string {
	switch {
	case g.err != nil:
		return "error"
	case g.verdict.Resolved:
		return "resolved"
	}
	return "unresolved"
}

func (g gradeOutcome) detail() string {
	if g.err != nil {
		return g.err.Error()
	}
	return g.verdict.Detail
}

type validation struct {
	task        swe.Task
	gold, empty gradeOutcome
	elapsed     time.Duration
}

func validateTasks(ctx context.Context, w *engine.World, conc int, progress io.Writer) []validation {
	out := make([]validation, len(w.Tasks))
	sem := make(chan struct{}, max(1, conc))
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for i, t := range w.Tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				out[i] = validation{task: t, gold: gradeOutcome{want: true, err: ctx.Err()}, empty: gradeOutcome{err: ctx.Err()}}
				return
			}
			defer func() { <-sem }()
			begin := time.Now()
			grade := func(attempt int, patch string, want bool) gradeOutcome {
				v, err := w.Grader.Grade(ctx, messages.GradeRequest{Ref: messages.EpisodeRef{TaskID: t.InstanceID, Sample: attempt},
					Attempt: attempt, Try: 1, Task: t.Ref(), Patch: patch})
				return gradeOutcome{want: want, verdict: v, err: err}
			}
			v := validation{task: t, gold: grade(1, t.Patch, true), empty: grade(2, "", false)}
			v.elapsed = time.Since(begin)
			out[i] = v
			mu.Lock()
			done++
			fmt.Fprintf(progress, "  [%d/%d] %s: gold %s, empty %s (%.1fs)\n", done, len(w.Tasks), t.InstanceID, v.gold.mark(), v.empty.mark(), v.elapsed.Seconds())
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func metaOf(t swe.Task) (lang, level string) {
	var m struct{ Language, Difficulty string }
	json.Unmarshal(t.Meta, &m)
	return orDash(m.Language), orDash(m.Difficulty)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func pct(a, n int) float64 {
	if n == 0 {
		return 0
	}
	return 100 * float64(a) / float64(n)
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}
