package openai_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/policy/openai"
	"github.com/swerl/swerl/policy/openai/openaitest"
)

// sleeps records the backoff waits instead of sleeping, so retry tests are instant and
// can assert the waits exactly.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// newPolicy returns a client of srv with short backoffs that are recorded, not slept.
func newPolicy(t *testing.T, srv *openaitest.Server, edit func(*openai.Config)) (*openai.Policy, *sleeps) {
	t.Helper()
	sl := &sleeps{}
	cfg := openai.Config{
		Endpoint:    srv.URL + "/v1",
		Model:       openaitest.DefaultModel,
		BackoffBase: time.Millisecond,
		BackoffMax:  10 * time.Millisecond,
		Sleep:       sl.sleep,
		Seed:        1,
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := openai.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.CloseIdleConnections)
	return p, sl
}

var testTask = messages.TaskRef{ID: "demo__1", Statement: "Division by zero in mean()."}

func firstRequest() policy.Request { return policy.Request{Task: testTask} }

// next returns the request for the turn after reply, whose command printed obs.
func next(req policy.Request, reply policy.Reply, obs string) policy.Request {
	turn := messages.NewTurnWithPrompt(messages.Turn{Index: req.Turn, Assistant: reply.Text, Observation: obs},
		reply.Prompt, reply.Tokens, reply.Logprobs)
	req.Transcript = req.Transcript.Append(turn)
	req.Turn++
	return req
}

// firstSegment is the text of the first turn's prompt under ChatML.
func firstSegment(system string) string {
	return "<|im_start|>system\n" + system + "<|im_end|>\n<|im_start|>user\n" + firstMessage() + "<|im_end|>\n<|im_start|>assistant\n"
}

// wantFatal fails t unless err is a non-retryable *policy.Error.
func wantFatal(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error, want a fatal one")
	}
	if policy.IsRetryable(err) {
		t.Fatalf("error is retryable, want fatal: %v", err)
	}
}

// wantRetryable fails t unless err is a retryable *policy.Error.
func wantRetryable(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error, want a retryable one")
	}
	if !policy.IsRetryable(err) {
		t.Fatalf("error is fatal, want retryable: %v", err)
	}
}
