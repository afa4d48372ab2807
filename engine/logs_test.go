package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/actors/actorstest"
	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/internal/syncbuf"
	"github.com/swerl/swerl/sandbox"
)

var (
	runID       = regexp.MustCompile(`^[0-9a-f]{8}$`)
	episodeName = regexp.MustCompile(`^g[0-9]+/s[0-9]+$`)
	epMessage   = regexp.MustCompile(`(?i)\bepisode\b`)                          // "episodes" is a count
	epValue     = regexp.MustCompile(`"(k[0-9]+/)?g[0-9]+/s[0-9]+|"task-[0-9]+`) // a ref, a key, a task
)

// TestLogsNameTheRunAndTheEpisode: with JSON logs at trace level, every line of a run
// carries the run's id (one per run) and its stage, and every line about an episode
// carries its iteration, its name ("g3/s4") and its attempt, also when sandboxes crash
// (a retry) and when an episode is abandoned (its line names the cause and the fix).
func TestLogsNameTheRunAndTheEpisode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncbuf.Buffer
		log := hclog.New(&hclog.LoggerOptions{Name: "swerl", Output: &buf, Level: hclog.Trace, JSONFormat: true})
		// Every first sandbox crashes at its 2nd command (a retry with a fresh one);
		// the sandboxes of iteration 1's g0/s0 never start (the episode is abandoned).
		sb := &actorstest.FakeSandboxes{PerSandbox: func(s sandbox.Spec) actorstest.SandboxKnobs {
			k := actorstest.SandboxKnobs{Latency: 10 * time.Millisecond}
			if s.Ref.Iteration == 1 && s.Ref.Group == 0 && s.Ref.Sample == 0 {
				k.StartErr = errors.New("image not found")
			} else if s.Attempt == 1 {
				k.FailAtExec = 2
			}
			return k
		}}
		cfg := engine.DefaultConfig()
		cfg.Iterations, cfg.TasksPerIteration, cfg.GroupSize = 2, 2, 2
		cfg.Tasks = tasks(4)
		cfg.Policy, cfg.Sandboxes, cfg.Grader = &actorstest.FakePolicy{}, sb, &actorstest.FakeGrader{}
		cfg.Episode.TurnCap = 4
		cfg.Episode.RetryBudget = 1
		cfg.Logger, cfg.Stage = log, "logs_test"
		for range 2 {
			cfg.Trainer = actorstest.NewFakeTrainer(0) // each run starts at version 0
			if _, err := engine.Run(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
		}

		ids := map[string]int{}
		byMessage := map[string]int{}
		var abandoned bool
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("not a JSON line: %q", line)
			}
			msg, _ := m["@message"].(string)
			byMessage[msg]++
			id, _ := m["run"].(string)
			if !runID.MatchString(id) || m["stage"] != "logs_test" {
				t.Errorf("line without the run's id and stage: %s", line)
			}
			ids[id]++
			_, hasRef := m["ref"]
			if !epMessage.MatchString(msg) && !epValue.MatchString(line) && !hasRef {
				continue
			}
			ep, _ := m["episode"].(string)
			_, hasIt := m["iteration"].(float64)
			attempt, hasAttempt := m["attempt"].(float64)
			if !episodeName.MatchString(ep) || !hasIt || !hasAttempt || m["task"] == nil {
				t.Errorf("line about an episode without iteration, episode, task and attempt: %s", line)
			}
			switch msg {
			case "episode retrying":
				if attempt < 1 || m["failure"] == nil || m["cause"] == nil {
					t.Errorf("retry line: %s", line)
				}
			case "episode abandoned":
				abandoned = true
				if m["episode"] != "g0/s0" || m["iteration"] != 1.0 || m["attempt"] != 2.0 || m["failure"] != "sandbox_start" || !strings.Contains(m["cause"].(string), "image not found") ||
					!strings.Contains(m["fix"].(string), "--sandbox") {
					t.Errorf("abandoned line does not name the cause and the fix: %s", line)
				}
			}
		}
		if len(ids) != 2 {
			t.Errorf("run ids %v: want 2 runs, each with its own id", ids)
		}
		if byMessage["episode retrying"] == 0 || byMessage["episode finished"] == 0 || !abandoned || byMessage["iteration started"] != 4 {
			t.Errorf("lines by message %v: want retries, finished and abandoned episodes, 4 iterations", byMessage)
		}
		time.Sleep(200 * time.Millisecond) // Proto.Actor's dead-letter throttle
	})
}
