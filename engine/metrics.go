package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/messages"
)

// MetricsLine is one line of the metrics JSONL: an iteration's barrier, or a held-out
// evaluation.
type MetricsLine struct {
	Time      time.Time `json:"time"`
	Stage     string    `json:"stage"`
	Kind      string    `json:"kind"` // "iteration", "eval", "pretrain_probe" or "rft_data"
	Step      int       `json:"step"`
	Iteration int       `json:"iteration"`
	Version   int       `json:"policy_version"`

	Episodes  int            `json:"episodes,omitempty"`
	Resolved  int            `json:"resolved,omitempty"`
	Abandoned int            `json:"abandoned,omitempty"`
	Abandons  map[string]int `json:"abandoned_by,omitempty"`
	MeanTurns float64        `json:"mean_turns,omitempty"`

	GroupsKept         int `json:"groups_kept,omitempty"`
	GroupsDroppedZero  int `json:"groups_dropped_zero_advantage,omitempty"`
	GroupsDroppedAband int `json:"groups_dropped_abandoned,omitempty"`
	BatchSize          int `json:"batch_size,omitempty"`

	Train *messages.TrainStats `json:"train,omitempty"`

	// A pretraining probe: which one ("screen" or "confirm"), the traces and tokens
	// trained on so far, the last chunk's loss. RFT's data: Episodes rollouts gave
	// Resolved resolved trajectories of Tokens assistant tokens.
	Probe  string   `json:"probe,omitempty"`
	Traces int      `json:"traces,omitempty"`
	Tokens int      `json:"tokens,omitempty"`
	Loss   *float64 `json:"loss,omitempty"`

	Pass1 *float64 `json:"pass1,omitempty"`
	PassG *float64 `json:"passG,omitempty"`
	Tasks int      `json:"tasks,omitempty"` // an eval line's tasks with a finished sample

	// Records counts the terminal records the barrier took (one per requested
	// episode); Duplicates and Stale the ones it dropped (a record twice, a reply for
	// another attempt or version).
	Records    int `json:"records,omitempty"`
	Duplicates int `json:"duplicates,omitempty"`
	Stale      int `json:"stale,omitempty"`

	RolloutSeconds  float64 `json:"rollout_seconds,omitempty"`
	TrainingSeconds float64 `json:"training_seconds,omitempty"`
}

// IterationLine summarises a barrier for the metrics file.
func IterationLine(stage string, step int, r actors.IterationReport) MetricsLine {
	l := MetricsLine{Time: time.Now().UTC(), Stage: stage, Kind: "iteration", Step: step, Iteration: r.Iteration,
		Version: r.PolicyVersion, Episodes: r.Requested, Resolved: r.Resolved, Abandoned: r.Abandoned,
		GroupsKept: r.GroupsKept, GroupsDroppedZero: r.GroupsDroppedZeroAdvantage, GroupsDroppedAband: r.GroupsDroppedAbandoned,
		BatchSize: r.BatchSize, Records: r.Finished + r.Abandoned, Duplicates: r.Duplicates, Stale: r.Stale, RolloutSeconds: r.Rollout.Seconds(), TrainingSeconds: r.Training.Seconds()}
	if len(r.AbandonedBy) > 0 {
		l.Abandons = map[string]int{}
		for k, v := range r.AbandonedBy {
			l.Abandons[string(k)] = v
		}
	}
	turns, n := 0, 0
	for _, rec := range r.Records {
		if rec.Status == messages.Finished {
			turns += rec.Turns()
			n++
		}
	}
	if n > 0 {
		l.MeanTurns = float64(turns) / float64(n)
	}
	if r.Train != (messages.TrainStats{}) {
		ts := r.Train
		l.Train = &ts
	}
	return l
}

// PretrainLine records a probe of the base model during pretraining (on training-pool
// tasks): probe is "screen" or "confirm".
func PretrainLine(probe string, traces, tokens int, loss float64, p PassRates) MetricsLine {
	return MetricsLine{Time: time.Now().UTC(), Stage: "base", Kind: "pretrain_probe", Probe: probe, Traces: traces, Tokens: tokens,
		Loss: &loss, Pass1: &p.Pass1, PassG: &p.PassG, Episodes: p.Samples}
}

// RFTLine records what one RFT pass collected: resolved of rollouts, and their
// assistant tokens. Iteration is the pass (1 is the paper's RFT).
func RFTLine(pass, rollouts, resolved, tokens int) MetricsLine {
	return MetricsLine{Time: time.Now().UTC(), Stage: "rft", Kind: "rft_data", Iteration: pass, Episodes: rollouts, Resolved: resolved, Tokens: tokens}
}

// EvalLine records a held-out evaluation.
func EvalLine(stage string, step, version int, p PassRates) MetricsLine {
	return MetricsLine{Time: time.Now().UTC(), Stage: stage, Kind: "eval", Step: step, Version: version,
		Pass1: &p.Pass1, PassG: &p.PassG, Episodes: p.Samples, Tasks: p.Tasks}
}

// MetricsFile appends JSON lines to a file, each written whole and synced, so a
// crash loses at most the line being written and never corrupts earlier ones.
type MetricsFile struct {
	mu sync.Mutex
	f  *os.File
}

// OpenMetrics opens (appending) or creates the metrics file at path.
func OpenMetrics(path string) (*MetricsFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics file: %w (choose a writable --out directory)", err)
	}
	return &MetricsFile{f: f}, nil
}

// Write appends one line.
func (m *MetricsFile) Write(l MetricsLine) error {
	data, err := json.Marshal(l)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.f.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("metrics file %s: %w (is the disk full?)", m.f.Name(), err)
	}
	return m.f.Sync()
}

// Close closes the file.
func (m *MetricsFile) Close() error { return m.f.Close() }
