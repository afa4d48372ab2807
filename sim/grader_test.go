package sim

import (
	"context"
	"strings"
	"testing"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/swe"
)

func grade(t *testing.T, g swe.Grader, task Task, patch string) swe.Verdict {
	t.Helper()
	v, err := g.Grade(context.Background(), messages.GradeRequest{Ref: messages.EpisodeRef{TaskID: task.ID}, Attempt: 1, Try: 1,
		Task: task.TaskRef(), Patch: patch})
	if err != nil {
		t.Fatalf("%s: Grade: %v", task.ID, err)
	}
	return v
}

func TestGrader(t *testing.T) {
	tasks := Generate(Default(), 50)
	g := NewGrader(tasks)
	for _, task := range tasks {
		if v := grade(t, g, task, task.GoldPatch()); !v.Resolved {
			t.Fatalf("%s: gold patch: %s", task.ID, v.Detail)
		}
		if v := grade(t, g, task, ""); v.Resolved {
			t.Fatalf("%s: empty patch resolved", task.ID)
		}
		if v := grade(t, g, task, "@@ garbage @@\n+return 1\n"); v.Resolved || !strings.Contains(v.Detail, "does not apply") {
			t.Fatalf("%s: garbage patch: %+v", task.ID, v)
		}
		// The gold fix, plus another tested function broken: not resolved.
		sb := task.NewSandbox()
		ctx := context.Background()
		sb.Exec(ctx, "fix "+task.Bug.File+" "+itoa(task.Bug.Line)+" "+task.Bug.Fix)
		broken := false
		for _, tt := range task.Tests() {
			if tt.Func == task.Bug.Issue {
				continue
			}
			out, _ := sb.Exec(ctx, "grep def "+tt.Func+" (")
			w := strings.Fields(out.Text)
			// The first body line of tt.Func: return a constant nobody wants.
			if out, _ := sb.Exec(ctx, "fix "+w[0]+" "+itoa(atoi(t, w[1])+1)+" return 1000"); out.ExitCode == 0 {
				broken = true
				break
			}
		}
		if !broken {
			t.Fatalf("%s: could not break another function", task.ID)
		}
		patch, _ := sb.Diff(ctx)
		if v := grade(t, g, task, patch); v.Resolved {
			t.Fatalf("%s: a patch breaking another function resolved:\n%s", task.ID, patch)
		}
	}
	if _, err := g.Grade(context.Background(), messages.GradeRequest{Task: messages.TaskRef{ID: "sim-x"}}); err == nil {
		t.Error("Grade of an unknown task did not fail")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Grade(ctx, messages.GradeRequest{Task: tasks[0].TaskRef()}); err == nil {
		t.Error("Grade with a canceled context did not fail")
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not a number: %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}
