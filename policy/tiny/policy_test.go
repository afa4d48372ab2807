package tiny

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
)

// noisyModel is a toy model with perturbed weights, so replies vary.
func noisyModel(t *testing.T) *Model {
	t.Helper()
	m := toyModel(t)
	for i := range m.p.data {
		m.p.data[i] *= 4
	}
	return m
}

func TestSampledLogprobsMatchForwardAndTraining(t *testing.T) {
	m := noisyModel(t)
	p := NewPolicy(m, PolicyConfig{Seed: 11, MaxReplyTokens: 12})
	var recs []messages.EpisodeRecord
	for n := 0; n < 6; n++ {
		recs = append(recs, sampledRecord(t, p, n, 1))
	}
	seqs, pos, err := m.tok.positions(recs, false, true)
	if err != nil {
		t.Fatal(err)
	}
	w := m.cfg.Window
	wins := make([]int32, len(pos)*w)
	targets := make([]int32, len(pos))
	for k, ps := range pos {
		fillWindow(wins[k*w:(k+1)*w], seqs[ps.seq].ctx, int(ps.i))
		targets[k] = seqs[ps.seq].ctx[ps.i]
	}
	lp, dist, err := m.Forward(wins, targets)
	if err != nil {
		t.Fatal(err)
	}
	for k, ps := range pos {
		if math.Abs(float64(lp[k]-ps.old)) > 1e-5 {
			t.Fatalf("position %d: forward log-prob %v, sampled with %v", k, lp[k], ps.old)
		}
	}
	// The training graph sees the same numbers (target log-probs and entropies).
	g, err := newGraph(m, len(pos), modeSFT)
	if err != nil {
		t.Fatal(err)
	}
	grad := make([]float32, len(m.p.data))
	var out stepOut
	if err := g.train(wins, targets, grad, &out); err != nil {
		t.Fatal(err)
	}
	v := m.tok.Size()
	for k := range pos {
		if math.Abs(float64(out.tlp[k]-lp[k])) > 1e-5 {
			t.Fatalf("position %d: training graph log-prob %v, forward %v", k, out.tlp[k], lp[k])
		}
		if want := entropy(dist[k*v : (k+1)*v]); math.Abs(out.ent[k]-want) > 1e-5 {
			t.Fatalf("position %d: entropy %v, forward %v", k, out.ent[k], want)
		}
	}
}

func generateAll(t *testing.T, p *Policy, reqs []policy.Request, concurrent bool) []policy.Reply {
	t.Helper()
	out := make([]policy.Reply, len(reqs))
	errs := make([]error, len(reqs))
	if !concurrent {
		for i, r := range reqs {
			out[i], errs[i] = p.Generate(context.Background(), r)
		}
	} else {
		var wg sync.WaitGroup
		for i, r := range reqs {
			wg.Go(func() { out[i], errs[i] = p.Generate(context.Background(), r) })
		}
		wg.Wait()
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	return out
}

func TestBatchedGenerationEqualsSequential(t *testing.T) {
	m := noisyModel(t)
	var reqs []policy.Request
	for i := 0; i < 20; i++ {
		r := toyRequest(i%toyNumbers, i/toyNumbers)
		r.Turn, r.Attempt = i%3, i%2
		reqs = append(reqs, r)
	}
	seq := generateAll(t, NewPolicy(m, PolicyConfig{Seed: 5, MaxReplyTokens: 12}), reqs, false)
	bat := generateAll(t, NewPolicy(m, PolicyConfig{Seed: 5, MaxReplyTokens: 12, MaxBatch: 8, Batchers: 1}), reqs, true)
	// Three batchers of at most 4 requests each: the same replies, whichever batcher
	// served a request and whatever shared its passes.
	pp := NewPolicy(m, PolicyConfig{Seed: 5, MaxReplyTokens: 12, MaxBatch: 4, Batchers: 3})
	par := generateAll(t, pp, reqs, true)
	waitIdle(t, pp)
	if n := len(pp.idle); n < 1 || n > 3 {
		t.Errorf("%d lanes made for at most 3 batchers", n)
	}
	distinct := map[string]bool{}
	for i := range reqs {
		a := seq[i]
		distinct[a.Text] = true
		for name, b := range map[string]policy.Reply{"batched": bat[i], "by 3 batchers": par[i]} {
			if a.Text != b.Text || !equalIDs(a.Tokens, b.Tokens) || len(a.Logprobs) != len(b.Logprobs) {
				t.Fatalf("request %d: one at a time %q %v, %s %q %v", i, a.Text, a.Tokens, name, b.Text, b.Tokens)
			}
			for k := range a.Logprobs {
				if math.Abs(float64(a.Logprobs[k]-b.Logprobs[k])) > 1e-5 {
					t.Fatalf("request %d token %d: log-prob %v alone, %v %s", i, k, a.Logprobs[k], b.Logprobs[k], name)
				}
			}
		}
		if len(a.Tokens) == 0 || len(a.Tokens) > 12 || (len(a.Tokens) < 12 && a.Tokens[len(a.Tokens)-1] != EOS) {
			t.Fatalf("request %d: reply %v neither ends with <eos> nor has the maximum length", i, a.Tokens)
		}
	}
	if len(distinct) < 5 {
		t.Errorf("only %d distinct replies over %d requests: the sampler looks degenerate", len(distinct), len(reqs))
	}
	// Another seed gives other replies.
	other := generateAll(t, NewPolicy(m, PolicyConfig{Seed: 6, MaxReplyTokens: 12}), reqs, false)
	same := 0
	for i := range reqs {
		if other[i].Text == seq[i].Text {
			same++
		}
	}
	if same == len(reqs) {
		t.Error("seed 6 gives exactly seed 5's replies")
	}
}

func TestSampleInvertsCDF(t *testing.T) {
	lp := []float32{float32(math.Log(0.5)), float32(math.Inf(-1)), float32(math.Log(0.25)), float32(math.Log(0.25))}
	for u, want := range map[float64]int{0: 0, 0.49: 0, 0.5: 2, 0.74: 2, 0.75: 3, 0.999999: 3, 1.5: 3} {
		if got := sample(lp, u); got != want {
			t.Errorf("sample(u=%v) = %d, want %d", u, got, want)
		}
	}
}

// endless makes the model never end a reply, so a request runs until cancelled.
func endless(m *Model) {
	m.p.view(pBout)[EOS] = -1e4
}

func TestGenerateHonoursContext(t *testing.T) {
	m := toyModel(t)
	endless(m)
	p := NewPolicy(m, PolicyConfig{Seed: 1, MaxReplyTokens: 1 << 30})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Generate(ctx, toyRequest(1, 0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: %v", err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Generate(ctx, toyRequest(2, 0))
	if !errors.Is(err, context.DeadlineExceeded) || !policy.IsRetryable(err) {
		t.Fatalf("deadline: %v (retryable %v)", err, policy.IsRetryable(err))
	}
	// The batcher drops the abandoned request and goes away once nothing is in flight.
	waitIdle(t, p)

	// A request that runs out of time leaves the batch without disturbing the others.
	// Both requests are queued before the batcher starts, so they share the first
	// passes; the short one's deadline passes after a few of them, mid-reply, whatever
	// the speed of the machine.
	want, err := NewPolicy(m, PolicyConfig{Seed: 1, MaxReplyTokens: 40}).Generate(context.Background(), toyRequest(3, 0))
	if err != nil {
		t.Fatal(err)
	}
	p2 := NewPolicy(m, PolicyConfig{Seed: 1, MaxReplyTokens: 40, Batchers: 1})
	p2.mu.Lock()
	p2.running = 1 // hold the batcher back until both requests are queued
	p2.mu.Unlock()
	short := expireAfter(4) // Generate looks once, the batcher once a pass: two tokens, then gone
	errc := make(chan error, 1)
	go func() {
		_, err := p2.Generate(short, toyRequest(4, 0))
		errc <- err
	}()
	type result struct {
		reply policy.Reply
		err   error
	}
	gotc := make(chan result, 1)
	go func() {
		r, err := p2.Generate(context.Background(), toyRequest(3, 0))
		gotc <- result{r, err}
	}()
	for queued := 0; queued < 2; time.Sleep(time.Millisecond) {
		p2.mu.Lock()
		queued = len(p2.pending)
		p2.mu.Unlock()
	}
	go p2.batcher(p2.takeLane())
	got := <-gotc
	if got.err != nil || got.reply.Text != want.Text || !equalIDs(got.reply.Tokens, want.Tokens) {
		t.Fatalf("reply beside an abandoned request: %q, %v; want %q", got.reply.Text, got.err, want.Text)
	}
	if err := <-errc; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request past its deadline: %v", err)
	}
	waitIdle(t, p2)
}

// expiringCtx is a context whose deadline passes at its n-th Err call: in Generate,
// one look before the request is queued, then one per forward pass of the batcher.
type expiringCtx struct {
	context.Context
	mu    sync.Mutex
	n     int
	calls int
	done  chan struct{}
}

func expireAfter(n int) *expiringCtx {
	return &expiringCtx{Context: context.Background(), n: n, done: make(chan struct{})}
}

func (c *expiringCtx) Done() <-chan struct{} { return c.done }

func (c *expiringCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	switch {
	case c.calls < c.n:
		return nil
	case c.calls == c.n:
		close(c.done)
	}
	return context.DeadlineExceeded
}

func waitIdle(t *testing.T, p *Policy) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		idle := p.running == 0 && len(p.pending) == 0
		p.mu.Unlock()
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the batcher is still running with nothing in flight")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLoadChecksVersion(t *testing.T) {
	m := toyModel(t)
	p := NewPolicy(m, PolicyConfig{})
	if err := p.Load(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	err := p.Load(context.Background(), 1)
	var pe *policy.Error
	if !errors.As(err, &pe) || pe.Retryable {
		t.Fatalf("Load(1) on a version-0 model: %v", err)
	}
	m.SetVersion(1)
	if err := p.Load(context.Background(), 1); err != nil || p.Version() != 1 {
		t.Fatalf("Load(1) after SetVersion(1): %v, version %d", err, p.Version())
	}
}

func TestPolicyServesTrainedParameters(t *testing.T) {
	m := toyModel(t)
	p := NewPolicy(m, PolicyConfig{Seed: 2, MaxReplyTokens: 10})
	tr, err := NewTrainer(m, sftConfig())
	if err != nil {
		t.Fatal(err)
	}
	before := generateAll(t, p, []policy.Request{toyRequest(0, 0)}, false)[0]
	if _, err := tr.SFT(context.Background(), toyTraces(24)); err != nil {
		t.Fatal(err)
	}
	after := generateAll(t, p, []policy.Request{toyRequest(0, 0)}, false)[0]
	if fmt.Sprint(before.Logprobs) == fmt.Sprint(after.Logprobs) {
		t.Fatal("the policy still serves the old parameters after SFT")
	}
}

func TestGenerateRefusesForeignTokenIDs(t *testing.T) {
	m := toyModel(t)
	p := NewPolicy(m, PolicyConfig{Seed: 1, MaxReplyTokens: 4})
	var tr messages.Transcript
	tr = tr.Append(messages.NewTurn(messages.Turn{Assistant: "x", Observation: "ok"}, []int32{9999}, []float32{-1}))
	req := toyRequest(1, 0)
	req.Transcript = tr
	_, err := p.Generate(context.Background(), req)
	var pe *policy.Error
	if !errors.As(err, &pe) || pe.Retryable {
		t.Fatalf("foreign token id: %v", err)
	}
	// The policy still works.
	if _, err := p.Generate(context.Background(), toyRequest(1, 0)); err != nil {
		t.Fatal(err)
	}
}
