package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// smallTrainArgs is the recipe of engine's smallRecipe, on the command line.
func smallTrainArgs(out string) []string {
	args := []string{"train", "--out", out}
	for _, s := range []string{"world.preset=easy", "world.train_tasks=24", "held_out.tasks=4", "held_out.samples=2",
		"held_out.turn_cap=12", "model.window=24", "model.dim=16", "model.hidden=32", "pretrain.traces=12",
		"pretrain.epochs=1", "pretrain.probe_tasks=4", "pretrain.probe_samples=2", "rft.tasks=4", "rft.samples=2",
		"stage1.iterations=1", "stage1.tasks_per_iteration=3", "stage1.group_size=2", "stage1.turn_cap=12",
		"stage2.iterations=1", "stage2.tasks_per_iteration=3", "stage2.group_size=2", "stage2.turn_cap=16"} {
		args = append(args, "--set", s)
	}
	return args
}

// TestLogFlagsRejectBadValues: a bad --log-level or --log-format stops every command
// that has them, with an error naming the flag, the value and the values allowed.
func TestLogFlagsRejectBadValues(t *testing.T) {
	for _, cmd := range [][]string{{"train"}, {"rollout"}, {"node", "--cluster", "c"}} {
		for _, c := range []struct {
			flag, value string
			want        []string
		}{
			{"--log-level", "verbose", []string{`--log-level "verbose"`, "trace, debug, info, warn, error or off"}},
			{"--log-format", "xml", []string{`--log-format "xml"`, "text or json"}},
		} {
			args := append(append([]string(nil), cmd...), c.flag, c.value)
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), args, &stdout, &stderr)
			if err == nil {
				t.Errorf("%v: no error", args)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v: error %q does not say %q", args, err, w)
				}
			}
		}
	}
}

// TestTrainQuietAndJSONLogs: `train --quiet` prints no progress line, only its final
// summary; without --quiet it prints its phase lines on stdout. With --log-format json
// --log-level info every stderr line is a JSON object, and each line of an engine run
// carries the run's id.
func TestTrainQuietAndJSONLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small recipe")
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := append(smallTrainArgs(out), "--quiet", "--log-format", "json", "--log-level", "info")
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("train: %v\nstderr:\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "wrote "+out+"/metrics.jsonl") {
		t.Errorf("train --quiet printed on stdout:\n%s", stdout.String())
	}
	if _, err := os.Stat(filepath.Join(out, "table.txt")); err != nil {
		t.Error(err)
	}
	runs := map[string]bool{}
	var iterations int
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("stderr line is not JSON: %q (%v)", l, err)
		}
		if lvl := m["@level"]; lvl == "debug" || lvl == "trace" {
			t.Errorf("line below --log-level info: %q", l)
		}
		if m["@message"] == "iteration started" {
			iterations++
			id, _ := m["run"].(string)
			if len(id) != 8 {
				t.Errorf("iteration line without an 8-character run id: %q", l)
			}
			runs[id] = true
		}
	}
	// Phases: pretrain probes, evaluations, RFT collection, two RL stages: each its own
	// run, each with its own id.
	if iterations < 5 || len(runs) != iterations {
		t.Errorf("%d iteration lines in %d runs; want at least 5, one run each", iterations, len(runs))
	}

	// Not quiet, text logs at warn: the phase lines on stdout, nothing on stderr (not a
	// terminal: no live line).
	stdout.Reset()
	stderr.Reset()
	if err := run(context.Background(), smallTrainArgs(t.TempDir()), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stdout.String(), "\n"); n < 8 || !strings.Contains(stdout.String(), "held-out") {
		t.Errorf("train printed %d lines:\n%s", n, stdout.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("train wrote on stderr (not a terminal, nothing to warn of):\n%s", stderr.String())
	}
}

// TestProgressNeedsATerminal: on a pipe or a buffer there is no live line, and the
// plain lines go to stderr as they are.
func TestProgressNeedsATerminal(t *testing.T) {
	var buf bytes.Buffer
	w, out := startProgress(&buf)
	if w != nil || out != &buf {
		t.Fatalf("on a buffer: watcher %v, writer %T", w, out)
	}
	r, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer pw.Close()
	if w, out := startProgress(pw); w != nil || out != pw {
		t.Fatalf("on a pipe: watcher %v, writer %T", w, out)
	}
	var wf watchFlags
	wf.logFormat, wf.logLevel = "text", "warn"
	watch, err := wf.start(pw, "swerl")
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Stop()
	if watch.Watcher != nil || watch.onScreen(&buf) != &buf || watch.Progress != pw {
		t.Fatalf("not a terminal: %+v", watch)
	}
}

// A cluster head logs at info unless --log-level says otherwise: its membership lines
// (a worker joined or lost, the cluster's summary) are info.
func TestClusterHeadLogsAtInfoByDefault(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "warn"},
		{[]string{"--cluster", "c1"}, "info"},
		{[]string{"--cluster", "c1", "--log-level", "error"}, "error"},
		{[]string{"--log-level", "debug"}, "debug"},
	} {
		fs := flag.NewFlagSet("train", flag.ContinueOnError)
		var cf clusterFlags
		cf.register(fs, "127.0.0.1:0")
		var wf watchFlags
		wf.register(fs, true, "warn")
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		wf.headLogsAtInfo(fs, &cf)
		if wf.logLevel != c.want {
			t.Errorf("%v: log level %q, want %q", c.args, wf.logLevel, c.want)
		}
	}
}
