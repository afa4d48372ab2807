package engine

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/actors/actorstest"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/policy/scripted"
	"github.com/swerl/swerl/sandbox/docker"
	"github.com/swerl/swerl/sandbox/local"
	"github.com/swerl/swerl/sandbox/sandboxtest"
	"github.com/swerl/swerl/swe"
	"github.com/swerl/swerl/swe/builtin"
)

// requireDocker skips when no Docker daemon answers (fails under
// SWERL_REQUIRE_DOCKER=1) and fails when one answers without the base image.
func requireDocker(t *testing.T) {
	t.Helper()
	sandboxtest.RequireDocker(t, docker.DefaultBaseImage)
}

// The real path end to end: a scripted policy types every built-in task's gold
// patch through the scaffold's edit/replace commands, in real sandboxes, through the
// actor engine, and the real grader resolves every one.
func testGoldThroughEngine(t *testing.T, backend string) {
	tasks, err := builtin.Tasks()
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := builtin.Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	sbDir := t.TempDir()
	wc := WorldConfig{Tasks: tasks, Snapshots: snaps, Sandbox: backend, CheckoutDir: t.TempDir(), TestTimeout: 5 * time.Minute}
	wc.Local.Dir = sbDir
	wc.Docker.RunID = "enginetest-" + local.RandomID()
	w, err := OpenWorld(context.Background(), wc)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	cfg := DefaultConfig()
	cfg.Iterations, cfg.TasksPerIteration, cfg.GroupSize = 1, len(tasks), 2
	cfg.Tasks = w.Refs
	cfg.Policy = scripted.NewGold(tasks)
	cfg.Trainer = policy.NewFrozen(0)
	cfg.Sandboxes, cfg.Grader = w.Sandboxes, w.Grader
	cfg.MaxConcurrentEpisodes, cfg.GraderConcurrency = 8, 4
	cfg.Logger = actorstest.TestLogger(t, hclog.Warn)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	recs := res.Records()
	if len(recs) != 2*len(tasks) {
		t.Fatalf("%d records for %d episodes", len(recs), 2*len(tasks))
	}
	byID := map[string]swe.Task{}
	for _, tk := range tasks {
		byID[tk.InstanceID] = tk
	}
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.Task.ID]++
		if r.Status != messages.Finished || !r.Resolved || r.Stop != messages.StopSubmit {
			t.Errorf("%s: status %s, stop %s, resolved %v, failure %+v", r.Ref, r.Status, r.Stop, r.Resolved, r.Failure)
			continue
		}
		if r.Patch != byID[r.Task.ID].Patch {
			t.Errorf("%s: the typed patch differs from the gold patch:\n%s", r.Ref, r.Patch)
		}
		for _, turn := range r.Transcript.Turns() {
			if turn.FormatError != "" || (turn.Command != swe.SubmitCommand && !turn.TimedOut && turn.Observation == "") {
				t.Errorf("%s turn %d: %+v", r.Ref, turn.Index, turn)
			}
		}
	}
	for _, tk := range tasks {
		if seen[tk.InstanceID] != 2 {
			t.Errorf("task %s ran %d times, want 2", tk.InstanceID, seen[tk.InstanceID])
		}
	}
	if backend == SandboxLocal {
		if left, _ := os.ReadDir(sbDir); len(left) > 0 {
			t.Errorf("local sandboxes left behind: %d", len(left))
		}
	}
	if backend == SandboxDocker {
		w.Close(context.Background())
		if left := containersOf(t, wc.Docker.RunID); left != "" {
			t.Errorf("containers left behind: %s", left)
		}
	}
}

// containersOf lists the containers labelled with run id (any state).
func containersOf(t *testing.T, run string) string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=swerl.run="+run).CombinedOutput()
	if err != nil {
		t.Fatalf("docker ps: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestGoldThroughEngineDocker(t *testing.T) {
	requireDocker(t)
	testGoldThroughEngine(t, SandboxDocker)
}

// A task whose image is not on the daemon: every episode is abandoned at once with
// the cause, without retries, and nothing is left behind.
func TestMissingTaskImage(t *testing.T) {
	requireDocker(t)
	all, err := builtin.Tasks()
	if err != nil {
		t.Fatal(err)
	}
	task := all[0]
	task.DockerImage = "swerl-no-such-image:never"
	wc := WorldConfig{Tasks: []swe.Task{task}, Sandbox: SandboxDocker, CheckoutDir: t.TempDir()}
	wc.Docker.RunID = "enginetest-" + local.RandomID()
	w, err := OpenWorld(context.Background(), wc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Iterations, cfg.TasksPerIteration, cfg.GroupSize = 1, 1, 2
	cfg.Tasks, cfg.Policy, cfg.Trainer = w.Refs, scripted.NewGold([]swe.Task{task}), policy.NewFrozen(0)
	cfg.Sandboxes, cfg.Grader = w.Sandboxes, w.Grader
	cfg.Logger = actorstest.TestLogger(t, hclog.Error)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Records() {
		if r.Status != messages.Abandoned || r.Failure.Kind != messages.FailSandboxStart || r.Retries != 0 ||
			!strings.Contains(r.Failure.Cause, "swerl-no-such-image:never") {
			t.Errorf("%s: %s %+v retries %d", r.Ref, r.Status, r.Failure, r.Retries)
		}
	}
	w.Close(context.Background())
	if left := containersOf(t, wc.Docker.RunID); left != "" {
		t.Errorf("containers left behind: %s", left)
	}
}

func TestGoldThroughEngineLocal(t *testing.T) { testGoldThroughEngine(t, SandboxLocal) }

// garbleFirst answers the first turn with garbage, then follows p.
type garbleFirst struct{ p policy.Policy }

func (g garbleFirst) Generate(ctx context.Context, req policy.Request) (policy.Reply, error) {
	if req.Transcript.Len() == 0 {
		return policy.Reply{Text: "I think I should look around, but I forgot the block."}, nil
	}
	return g.p.Generate(ctx, req)
}

// A reply without a command block gets the format error and the unchanged prompt
// line as its observation, and the episode goes on.
func TestFormatErrorObservationEndsWithPrompt(t *testing.T) {
	all, err := builtin.Tasks()
	if err != nil {
		t.Fatal(err)
	}
	snaps, _ := builtin.Snapshots()
	tasks := all[:1]
	wc := WorldConfig{Tasks: tasks, Snapshots: snaps, CheckoutDir: t.TempDir()}
	wc.Local.Dir = t.TempDir()
	w, err := OpenWorld(context.Background(), wc)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	cfg := DefaultConfig()
	cfg.Iterations, cfg.TasksPerIteration, cfg.GroupSize = 1, 1, 2
	cfg.Tasks, cfg.Policy, cfg.Trainer = w.Refs, garbleFirst{scripted.NewGold(tasks)}, policy.NewFrozen(0)
	cfg.Sandboxes, cfg.Grader = w.Sandboxes, w.Grader
	cfg.Logger = actorstest.TestLogger(t, hclog.Warn)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Records() {
		first := r.Transcript.Turns()[0]
		want := swe.ErrNoCommand + "\n(Current directory: "
		if first.FormatError != swe.ErrNoCommand || !strings.HasPrefix(first.Observation, want) || !strings.HasSuffix(first.Observation, "current file: n/a) bash-$") {
			t.Errorf("%s: first turn %+v", r.Ref, first)
		}
		if !r.Resolved {
			t.Errorf("%s: the episode did not go on to resolve the task: %s %s %+v", r.Ref, r.Status, r.Stop, r.Failure)
		}
	}
}
