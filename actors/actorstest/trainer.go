package actorstest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/swerl/swerl/messages"
)

// FakeTrainer counts updates. PanicAt[v] panics that many times on the batch of
// version v before training it; ErrAt[v] makes that update fail.
type FakeTrainer struct {
	Latency time.Duration
	PanicAt map[int]int
	ErrAt   map[int]error

	mu      sync.Mutex
	version int
	trained map[int]int // version -> successful updates
	sizes   map[int]int // version -> batch size
	panics  int
}

// NewFakeTrainer starts at version.
func NewFakeTrainer(version int) *FakeTrainer { return &FakeTrainer{version: version} }

// Version implements policy.Trainer.
func (t *FakeTrainer) Version() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.version
}

// Train implements policy.Trainer.
func (t *FakeTrainer) Train(ctx context.Context, b messages.TrainBatch) (messages.TrainStats, error) {
	t.mu.Lock()
	v := t.version
	if t.PanicAt[v] > 0 {
		t.PanicAt[v]--
		t.panics++
		t.mu.Unlock()
		panic(fmt.Sprintf("fake trainer: injected panic at version %d", v))
	}
	t.mu.Unlock()
	if err := Sleep(ctx, t.Latency); err != nil {
		return messages.TrainStats{}, err
	}
	if err := t.ErrAt[v]; err != nil {
		return messages.TrainStats{}, err
	}
	tokens := 0
	for _, r := range b.Records() {
		for _, turn := range r.Transcript.Turns() {
			tokens += turn.NumTokens()
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.version != v {
		return messages.TrainStats{}, errors.New("fake trainer: concurrent Train calls")
	}
	if t.trained == nil {
		t.trained, t.sizes = map[int]int{}, map[int]int{}
	}
	t.trained[v]++
	t.sizes[v] = b.Len()
	t.version++
	return messages.TrainStats{Loss: 0.1, Tokens: tokens, Steps: 1, Trajectories: b.Len(), SkippedEmpty: b.Len() == 0}, nil
}

// Trained returns how many times the batch of each version was trained.
func (t *FakeTrainer) Trained() map[int]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.trained)
}

// Panics is the number of injected panics that fired.
func (t *FakeTrainer) Panics() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.panics
}
