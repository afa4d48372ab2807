package policy

import (
	"context"
	"sync"

	"github.com/swerl/swerl/messages"
)

// Frozen is the trainer of evaluation runs (rollouts and grading, no learning): it
// changes no parameter, reports what it was given, and advances the version at each
// barrier so that the engine's protocol (batch, PolicyUpdated) is the same as in
// training. A policy served under it must not care about the version.
type Frozen struct {
	mu      sync.Mutex
	version int
}

// NewFrozen returns a frozen trainer at version.
func NewFrozen(version int) *Frozen { return &Frozen{version: version} }

// Version implements Trainer.
func (f *Frozen) Version() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.version
}

// Train implements Trainer: nothing is learnt.
func (f *Frozen) Train(ctx context.Context, b messages.TrainBatch) (messages.TrainStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.version++
	return messages.TrainStats{Trajectories: b.Len(), SkippedEmpty: b.Len() == 0}, nil
}

var _ Trainer = (*Frozen)(nil)
