package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/swerl/swerl/policy/openai/openaitest"
	"github.com/swerl/swerl/policy/scripted/stub"
	"github.com/swerl/swerl/swe/builtin"
)

// TestRolloutOnWorkers: `swerl rollout --cluster` on real SWE tasks (the built-in
// suite, local sandboxes on the workers) against an OpenAI-compatible server that the
// workers call themselves (the stub of policy/openai, typing the gold patches). Every
// episode is graded on a worker and resolves; the endpoint sees every generation.
func TestRolloutOnWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("grades the built-in suite's tasks on two workers")
	}
	tasks, err := builtin.Tasks()
	if err != nil {
		t.Fatal(err)
	}
	srv := openaitest.NewServerWith(t, stub.GoldHandler(t, tasks), openaitest.Options{Kind: openaitest.VLLM,
		Defaults: openaitest.QwenDefaults, EOS: openaitest.QwenEOS, MaxModelLen: 32768})
	c := newCluster(t, 3, lease)
	var ws []*proc
	for i := 1; i <= 2; i++ {
		args := append([]string{"node"}, c.args(i)...)
		ws = append(ws, start(t, c.dir, "worker"+strconv.Itoa(i), append(args, "--log-level", "debug", "--slots", "3",
			"--tasks", "builtin", "--sandbox", "local", "--checkouts", filepath.Join(c.dir, "checkouts"+strconv.Itoa(i)))...))
	}
	const n, g = 6, 2
	out := filepath.Join(c.dir, "run")
	args := append([]string{"rollout"}, c.args(0)...)
	args = append(args, "--tasks", "builtin", "--limit", strconv.Itoa(n), "-n", strconv.Itoa(g), "--endpoint", srv.URL,
		"--model", openaitest.DefaultModel, "--out", out, "--checkouts", filepath.Join(c.dir, "checkouts0"))
	head := start(t, c.dir, "head", args...)
	if err := head.wait(runWait); err != nil {
		t.Fatalf("head: %v", err)
	}
	var sum struct {
		Requested, Finished, Resolved int
	}
	data, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Requested != n*g || sum.Finished != n*g || sum.Resolved != n*g {
		t.Errorf("summary %+v: want all %d episodes finished and resolved", sum, n*g)
	}
	for _, w := range ws {
		if started, _ := stopWorker(t, w); started == 0 {
			t.Errorf("%s ran no episode", w.name)
		}
	}
}
