package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
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
sandboxes, prints a table and exits non-zero on any wrong result, grading error or
bad line. A grading error is often a test runner that cannot start in the sandbox
(shown as "error", with the end of its log; --keep-logs DIR keeps every log).
`

func tasksCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "validate" {
		fmt.Fprint(stderr, tasksUsage)
		return errors.New("tasks: want 'tasks validate FILE'")
	}
	fs := flag.NewFlagSet("tasks validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	backend := fs.String("sandbox", engine.SandboxLocal, "sandbox backend: local or docker")
	conc := fs.Int("concurrency", runtime.NumCPU(), "tasks graded at once (one per CPU unless set)")
	timeout := fs.Duration("timeout", 10*time.Minute, "limit for one test run")
	keepLogs := fs.String("keep-logs", "", "directory to keep every test log in (<instance_id>.a1.t1.log: gold; .a2: empty patch)")
	mirror := fs.String("repos", "", "directory of local clones for tasks that are not built in (owner__name)")
	checkouts := fs.String("checkouts", "", "directory for prepared task repositories (default: user cache)")
	selectTasks := taskSelectionFlags(fs)
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
	tasks, err := selectTasks(tasks)
	if err != nil {
		return fmt.Errorf("tasks validate: %w", err)
	}
	w, err := engine.OpenWorld(ctx, engine.WorldConfig{Tasks: tasks, Snapshots: snaps, Sandbox: *backend,
		CheckoutDir: *checkouts, Mirror: *mirror, TestTimeout: *timeout})
	if err != nil {
		return err
	}
	w.Grader.KeepLogs = *keepLogs
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		w.Close(cctx)
	}()
	results := validateTasks(ctx, w, *conc, stderr)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tLANG\tLEVEL\tGOLD\tEMPTY\tSECONDS\tDETAIL")
	var goldResolved, emptyResolved, errs, bad int
	for _, r := range results {
		lang, level := metaOf(r.task)
		if r.gold.resolved() {
			goldResolved++
		}
		if r.empty.resolved() {
			emptyResolved++
		}
		for _, g := range []gradeOutcome{r.gold, r.empty} {
			if g.err != nil {
				errs++
			}
		}
		if !r.gold.ok() || !r.empty.ok() {
			bad++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.1f\t%s\n", r.task.InstanceID, lang, level, r.gold.mark(), r.empty.mark(),
			r.elapsed.Seconds(), oneLine(r.detail(), 160))
	}
	tw.Flush()
	if errs > 0 {
		fmt.Fprintln(stdout, "\ngrading errors:")
		for _, r := range results {
			for _, g := range []struct {
				name string
				o    gradeOutcome
			}{{"gold", r.gold}, {"empty", r.empty}} {
				if g.o.err != nil {
					fmt.Fprintf(stdout, "%s, %s patch: %v\n", r.task.InstanceID, g.name, g.o.err)
				}
			}
		}
	}
	n := len(results)
	fmt.Fprintf(stdout, "\n%s (%s sandbox): gold resolved %d/%d (%.0f%%), empty resolved %d/%d (%.0f%%), errors %d\n", file, *backend,
		goldResolved, n, pct(goldResolved, n), emptyResolved, n, pct(emptyResolved, n), errs)
	if *keepLogs != "" {
		fmt.Fprintf(stdout, "test logs in %s (<instance_id>.a1.t1.log: gold patch, .a2.t1.log: empty patch)\n", *keepLogs)
	}
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case bad > 0 && errs > 0:
		return fmt.Errorf("tasks validate: %d of %d tasks gave a wrong result or an error (%d grading errors, listed above)", bad, n, errs)
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

// resolved reports a real resolved verdict (an error is not one).
func (g gradeOutcome) resolved() bool { return g.err == nil && g.verdict.Resolved }

func (g gradeOutcome) mark() string {
	switch {
	case g.err != nil:
		return "error"
	case g.verdict.Resolved:
		return "resolved"
	}
	return "unresolved"
}

// detail is the outcome for the table: the F2P/P2P counts of a right result, the
// verdict's detail of a wrong one, the reason and end of the log of a runner that
// did not run, the error of another failure.
func (g gradeOutcome) detail() string {
	var re *swe.RunnerError
	switch {
	case errors.As(g.err, &re):
		return fmt.Sprintf("error: %s: %s", re.Reason, strings.Join(tailLines(re.Tail, 3), " | "))
	case g.err != nil:
		return "error: " + g.err.Error()
	case g.ok():
		return shortCounts(g.verdict.Detail)
	}
	return g.verdict.Detail
}

// shortCounts turns a verdict's "FAIL_TO_PASS 1/1, PASS_TO_PASS 3/3; failing: ..."
// into "F2P 1/1 P2P 3/3"; another detail comes back whole.
func shortCounts(detail string) string {
	counts, _, _ := strings.Cut(detail, ";")
	if !strings.HasPrefix(counts, "FAIL_TO_PASS ") {
		return detail
	}
	return strings.NewReplacer("FAIL_TO_PASS ", "F2P ", ", PASS_TO_PASS ", " P2P ").Replace(counts)
}

// tailLines returns the last n non-blank lines of s.
func tailLines(s string, n int) []string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines[max(0, len(lines)-n):]
}

type validation struct {
	task        swe.Task
	gold, empty gradeOutcome
	elapsed     time.Duration
}

// detail is the table's last column: both counts when both results are right,
// else what went wrong with each wrong one.
func (v validation) detail() string {
	if v.gold.ok() && v.empty.ok() {
		return "gold " + v.gold.detail() + "; empty " + v.empty.detail()
	}
	var parts []string
	if !v.gold.ok() {
		parts = append(parts, "gold: "+v.gold.detail())
	}
	if !v.empty.ok() {
		parts = append(parts, "empty: "+v.empty.detail())
	}
	return strings.Join(parts, "; ")
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
				// The attempt tells the two grades apart (their sandboxes and kept logs).
				v, err := w.Grader.Grade(ctx, messages.GradeRequest{Ref: messages.EpisodeRef{TaskID: t.InstanceID},
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

// taskSelectionFlags defines --instances and --limit on fs and returns the
// selection they ask for (swe.Select), to apply to the loaded tasks.
func taskSelectionFlags(fs *flag.FlagSet) func([]swe.Task) ([]swe.Task, error) {
	var ids []string
	fs.Func("instances", "comma-separated instance_ids to keep (in file order); an id not in the file is an error", func(s string) error {
		for id := range strings.SplitSeq(s, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
		return nil
	})
	limit := fs.Int("limit", 0, "keep the first N tasks (after --instances); 0: all")
	return func(tasks []swe.Task) ([]swe.Task, error) { return swe.Select(tasks, ids, *limit) }
}
