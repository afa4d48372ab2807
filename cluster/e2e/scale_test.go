package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// BenchmarkIterationWorkers measures the RL iteration's rollout time of one scenario
// with 1 and with 3 workers when each worker's sandbox slots are the bottleneck:
// --slots 2 and 150 ms per sandbox start and command (latency-bound sandboxes, so more
// workers add capacity even on one machine). It reports the median rollout seconds of
// stage 1's iterations (40 episodes each). One run of the recipe per sub-benchmark:
//
//	go test ./cluster/e2e -run '^$' -bench IterationWorkers -benchtime 1x
func BenchmarkIterationWorkers(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			for range b.N {
				b.ReportMetric(iterationSeconds(b, n), "rollout-s/iteration")
			}
		})
	}
}

func iterationSeconds(b *testing.B, workers int) float64 {
	b.Helper()
	tb := testing.TB(b)
	c := newCluster(tb, workers+1, lease)
	var ws []*proc
	for i := 1; i <= workers; i++ {
		args := append([]string{"node"}, c.args(i)...)
		ws = append(ws, start(tb, c.dir, fmt.Sprintf("worker%d", i), append(args, "--slots", "2", "--sandbox-latency", "150ms")...))
	}
	out := filepath.Join(c.dir, "run")
	args := append([]string{"train"}, c.args(0)...)
	args = append(args, "--out", out)
	args = append(args, smallRecipe...)
	args = append(args, "--set", "stage1.iterations=3", "--set", "stage1.tasks_per_iteration=10", "--set", "stage1.group_size=4")
	head := start(tb, c.dir, "head", args...)
	if err := head.wait(runWait); err != nil {
		b.Fatalf("head: %v", err)
	}
	for _, w := range ws {
		_ = w.cmd.Process.Kill()
	}
	f, err := os.Open(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var secs []float64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Stage   string  `json:"stage"`
			Kind    string  `json:"kind"`
			Rollout float64 `json:"rollout_seconds"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Kind == "iteration" && l.Stage == "stage1" {
			secs = append(secs, l.Rollout)
		}
	}
	if len(secs) == 0 {
		b.Fatal("no stage 1 iteration in metrics.jsonl")
	}
	slices.Sort(secs)
	b.Logf("workers=%d: stage 1 rollout seconds %v", workers, secs)
	return secs[len(secs)/2]
}
