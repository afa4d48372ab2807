package engine

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/messages"
)

func TestMetricsFileAppendsWholeLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	for round := 0; round < 2; round++ { // reopening appends
		m, err := OpenMetrics(path)
		if err != nil {
			t.Fatal(err)
		}
		rep := actors.IterationReport{Iteration: round, PolicyVersion: round, Requested: 4, Resolved: 1,
			AbandonedBy: map[messages.FailureKind]int{messages.FailSandboxDied: 1}, Abandoned: 1,
			Train: messages.TrainStats{Loss: 0.5, Tokens: 10}}
		if err := m.Write(IterationLine("stage1", round, rep)); err != nil {
			t.Fatal(err)
		}
		if err := m.Write(EvalLine("stage1", round, round+1, PassRates{Pass1: 0.25, PassG: 0.5, Samples: 8})); err != nil {
			t.Fatal(err)
		}
		m.Close()
	}
	f, _ := os.Open(path)
	defer f.Close()
	var lines []MetricsLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l MetricsLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 4 || lines[0].Kind != "iteration" || lines[0].Abandons["sandbox_died"] != 1 || lines[0].Train.Loss != 0.5 ||
		lines[1].Kind != "eval" || *lines[1].Pass1 != 0.25 || lines[2].Iteration != 1 {
		t.Fatalf("lines: %+v", lines)
	}
	if _, err := OpenMetrics(filepath.Join(t.TempDir(), "no", "such", "dir", "m.jsonl")); err == nil {
		t.Fatal("opening in a missing directory succeeded")
	}
}
