package external

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/records"
)

// Defaults of Options.
const (
	DefaultTimeout = 2 * time.Hour
	DefaultPoll    = 2 * time.Second
)

// Options tune the handshake. The zero value is ready to use.
type Options struct {
	// Start is the policy version served before the first update (default 0).
	Start int
	// Timeout is how long Train waits for the trainer to report the next policy
	// served, per batch (default 2h).
	Timeout time.Duration
	// Poll is the interval between two looks at served.json, or two GETs (default 2s).
	Poll time.Duration
	// HTTPClient is used by the HTTP protocol (default: a client with no overall
	// timeout; every request is bounded by Train's context and Timeout).
	HTTPClient *http.Client
	// Sleep waits d or until ctx is done, returning ctx.Err() in that case. Tests
	// replace it; the default uses a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Trainer is a policy.Trainer whose learner runs outside swerl: Train hands batch k
// to it (directory or HTTP protocol, see the package doc) and returns once the
// trainer reports policy k+1 served. Version, Served and Where may be called from any
// goroutine; Train is not called concurrently (policy.Trainer's contract).
type Trainer struct {
	opts  Options
	where string // the directory or base URL, for messages
	proto protocol

	mu      sync.Mutex
	version int
	served  map[int]string
}

// protocol is one way of talking to the trainer: hand the batch over and wait for
// the answer for version want.
type protocol interface {
	exchange(ctx context.Context, t *Trainer, b messages.TrainBatch, want int) (answer, error)
}

// answer is what the trainer reports once a batch is done: the served.json document,
// or the body of GET /batches/{version}.
type answer struct {
	Status  string       `json:"status,omitempty"`
	Version int          `json:"version"`
	Model   string       `json:"model,omitempty"`
	Error   string       `json:"error,omitempty"`
	Stats   *answerStats `json:"stats,omitempty"`
}

// decodeAnswer decodes an answer, which must carry a "version" if needVersion; what
// names the source in errors.
func decodeAnswer(data []byte, what string, needVersion bool) (answer, error) {
	var w struct {
		answer
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return answer{}, fmt.Errorf("%s: %w", what, err)
	}
	a := w.answer
	switch {
	case w.Version != nil:
		a.Version = *w.Version
	case needVersion:
		return answer{}, fmt.Errorf("%s: no \"version\"", what)
	}
	return a, nil
}

// answerStats is the optional "stats" object of an answer; every field is optional.
type answerStats struct {
	Loss         float64 `json:"loss"`
	Steps        int     `json:"steps"`
	Tokens       int     `json:"tokens"`
	GradNorm     float64 `json:"grad_norm"`
	Entropy      float64 `json:"entropy"`
	ClipFracLow  float64 `json:"clip_frac_low"`
	ClipFracHigh float64 `json:"clip_frac_high"`
}

func newTrainer(where string, proto protocol, opts Options) *Trainer {
	opts = opts.withDefaults()
	return &Trainer{opts: opts, where: where, proto: proto, version: opts.Start, served: map[int]string{}}
}

// Version implements policy.Trainer: the policy version served now.
func (t *Trainer) Version() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.version
}

// Served returns the model name the trainer said serves version (the "model" of its
// answer), and whether it said one. An inference client uses it to address the new
// weights when the server registers each version under its own name.
func (t *Trainer) Served(version int) (model string, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.served[version]
	return m, m != ""
}

// Where is the trainer's directory or base URL.
func (t *Trainer) Where() string { return t.where }

// Train implements policy.Trainer: it hands b to the trainer and waits, at most
// Options.Timeout, until the trainer reports policy b.PolicyVersion+1 served. The
// version advances only then. The errors name the trainer and what was expected: a
// batch for another version than Version, the trainer's own failure message, a
// served version other than the next one, the timeout, or ctx's error when ctx is
// done first (returned promptly).
func (t *Trainer) Train(ctx context.Context, b messages.TrainBatch) (messages.TrainStats, error) {
	if v := t.Version(); b.PolicyVersion != v {
		return messages.TrainStats{}, fmt.Errorf("external trainer at %s: batch of iteration %d was sampled from policy %d, but policy %d is served",
			t.where, b.Iteration, b.PolicyVersion, v)
	}
	want := b.PolicyVersion + 1
	a, err := t.proto.exchange(ctx, t, b, want)
	if err != nil {
		return messages.TrainStats{}, err
	}
	stats := messages.TrainStats{Trajectories: b.Len(), SkippedEmpty: b.Len() == 0}
	if s := a.Stats; s != nil {
		stats.Loss, stats.Steps, stats.Tokens = s.Loss, s.Steps, s.Tokens
		stats.GradNorm, stats.Entropy, stats.ClipFracLow, stats.ClipFracHigh = s.GradNorm, s.Entropy, s.ClipFracLow, s.ClipFracHigh
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.version = want
	t.served[want] = a.Model
	return stats, nil
}

// batchRecords converts the batch's episodes to trajectory records, advantages known.
func batchRecords(b messages.TrainBatch) []records.Record {
	eps := b.Records()
	out := make([]records.Record, len(eps))
	for i, e := range eps {
		out[i] = records.FromEpisode(e, true)
	}
	return out
}

// waitErr is the error of a wait that ended because ctx was done.
func (t *Trainer) waitErr(ctx context.Context, want int) error {
	return fmt.Errorf("external trainer at %s: stopped waiting for policy %d: %w", t.where, want, context.Cause(ctx))
}

var _ policy.Trainer = (*Trainer)(nil)
