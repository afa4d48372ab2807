package tiny

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/swerl/swerl/policy"
)

// PolicyConfig sets how replies are sampled and batched.
type PolicyConfig struct {
	// Seed, with each request's Ref, Attempt and Turn, seeds that request's sampler.
	Seed uint64
	// MaxReplyTokens caps a reply (EOS included); a reply that reaches it ends without
	// EOS. 0 means 64.
	MaxReplyTokens int
	// MaxBatch caps the windows of one forward pass; further requests wait their turn
	// in arrival order. 0 means 64.
	MaxBatch int
	// Batchers caps the forward passes that run at once, each on its own requests
	// (the work of a pass is mostly serial: one per core keeps a machine busy). 0 means
	// GOMAXPROCS.
	Batchers int
}

// Policy serves a Model: it implements policy.Policy (and policy.Loader). Replies are
// sampled token by token at temperature 1 from the full distribution (no top-p, top-k
// or min-p: PAPER.md, a truncated sampler biases the importance ratio), and carry the
// log-prob of every token sampled.
//
// Concurrent Generate calls are batched: a batcher goroutine, started by a request
// when fewer than Batchers run and gone when none is left for it, advances its
// requests (up to MaxBatch) by one token per forward pass; a new request joins the
// next pass of a batcher with room, a finished or cancelled one leaves. The randomness
// of a request comes from a PCG seeded by (Seed, Ref, Attempt, Turn) and nothing else,
// and each row of a pass is computed from its own window alone, so replies do not
// depend on what else is in flight or on which batcher served them. Each pass
// read-locks the model's parameters, so a Trainer of the same Model never updates them
// mid-pass, and the next pass after an update samples from the new parameters.
type Policy struct {
	m   *Model
	cfg PolicyConfig

	mu      sync.Mutex
	pending []*genReq
	running int     // batchers running
	idle    []*lane // lanes no batcher holds
}

// lane is what one batcher owns while it runs: graphs by batch size, and the input and
// output buffers of a pass. Lanes outlive batchers, so graphs are compiled once.
type lane struct {
	graphs  map[int]*graph
	windows []int32
	dist    []float32
}

// NewPolicy returns a policy serving m.
func NewPolicy(m *Model, cfg PolicyConfig) *Policy {
	if cfg.MaxReplyTokens <= 0 {
		cfg.MaxReplyTokens = 64
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 64
	}
	if cfg.Batchers <= 0 {
		cfg.Batchers = runtime.GOMAXPROCS(0)
	}
	return &Policy{m: m, cfg: cfg}
}

// Model returns the served model.
func (p *Policy) Model() *Model { return p.m }

// Version is the version of the parameters the policy serves: the model's (the last
// training update or checkpoint loaded into it).
func (p *Policy) Version() int { return p.m.Version() }

// Load implements policy.Loader. The policy always serves its model's current
// parameters, so Load only checks that they are the version asked for; a mismatch is
// a non-retryable error.
func (p *Policy) Load(ctx context.Context, version int) error {
	if v := p.m.Version(); v != version {
		return &policy.Error{Err: fmt.Errorf("tiny: asked to serve version %d, the model holds version %d", version, v)}
	}
	return ctx.Err()
}

type genReq struct {
	ctx      context.Context
	win      []int32 // the last Window ids of the context and the reply so far
	rng      *rand.Rand
	tokens   []int32
	logprobs []float32
	done     chan genResult // buffered: the batcher never blocks on it
}

type genResult struct {
	err error
}

// Generate implements policy.Policy. It returns ctx's error (wrapped) when ctx ends
// first; other errors are non-retryable *policy.Error values. req.Version is not
// checked: the reply comes from the parameters the model holds (see Load). The reply's
// Tokens and Logprobs belong to the caller.
func (p *Policy) Generate(ctx context.Context, req policy.Request) (policy.Reply, error) {
	if err := ctx.Err(); err != nil {
		return policy.Reply{}, fmt.Errorf("tiny: generate: %w", err)
	}
	ids := p.m.tok.RenderRequest(req)
	if err := p.m.checkIDs(ids); err != nil {
		return policy.Reply{}, &policy.Error{Err: fmt.Errorf("%w (a turn's sampled ids come from another vocabulary?)", err)}
	}
	win := make([]int32, p.m.cfg.Window)
	fillWindow(win, ids, len(ids))
	r := &genReq{ctx: ctx, win: win, rng: rand.New(requestSource(p.cfg.Seed, req)),
		done: make(chan genResult, 1)}
	p.mu.Lock()
	p.pending = append(p.pending, r)
	if p.running < p.cfg.Batchers {
		p.running++
		go p.batcher(p.takeLane())
	}
	p.mu.Unlock()
	select {
	case res := <-r.done:
		if res.err != nil {
			return policy.Reply{}, res.err
		}
		return policy.Reply{Text: p.m.tok.DecodeReply(r.tokens), Tokens: r.tokens, Logprobs: r.logprobs}, nil
	case <-ctx.Done():
		return policy.Reply{}, fmt.Errorf("tiny: generate: %w", ctx.Err())
	}
}

// requestSource seeds a request's sampler from the policy seed and the request's
// identity: its episode ref, attempt and turn.
func requestSource(seed uint64, req policy.Request) *rand.PCG {
	h := fnv.New64a()
	var buf [8]byte
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	put(seed)
	put(uint64(req.Ref.Iteration))
	put(uint64(req.Ref.PolicyVersion))
	put(uint64(req.Ref.Group))
	put(uint64(req.Ref.Sample))
	put(uint64(len(req.Ref.TaskID)))
	h.Write([]byte(req.Ref.TaskID))
	put(uint64(req.Attempt))
	put(uint64(req.Turn))
	s := h.Sum64()
	return rand.NewPCG(s, splitmix(s))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// takeLane returns an idle lane, or a new one. The caller holds p.mu.
func (p *Policy) takeLane() *lane {
	if n := len(p.idle); n > 0 {
		l := p.idle[n-1]
		p.idle = p.idle[:n-1]
		return l
	}
	return &lane{graphs: map[int]*graph{}}
}

// batcher advances its requests, taken from p.pending up to MaxBatch at a time, until
// none is left for it; then it gives its lane back and exits.
func (p *Policy) batcher(ln *lane) {
	var active []*genReq
	defer func() {
		if v := recover(); v != nil {
			err := &policy.Error{Err: fmt.Errorf("tiny: batcher panicked: %v\n%s", v, debug.Stack())}
			p.mu.Lock()
			p.running--
			if p.running == 0 { // nobody else would serve them
				active = append(active, p.pending...)
				p.pending = nil
			}
			p.mu.Unlock()
			for _, r := range active {
				r.done <- genResult{err: err}
			}
		}
	}()
	for {
		p.mu.Lock()
		n := min(len(p.pending), p.cfg.MaxBatch-len(active))
		active = append(active, p.pending[:n]...)
		p.pending = append(p.pending[:0], p.pending[n:]...)
		if len(active) == 0 {
			p.running--
			p.idle = append(p.idle, ln)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		// Cancelled requests leave; their Generate has returned already.
		active = removeIf(active, func(r *genReq) bool { return r.ctx.Err() != nil })
		if len(active) == 0 {
			continue
		}
		if err := p.advance(ln, active); err != nil {
			for _, r := range active {
				r.done <- genResult{err: &policy.Error{Err: err}}
			}
			active = active[:0]
			continue
		}
		active = removeIf(active, func(r *genReq) bool {
			if len(r.tokens) == 0 {
				return false
			}
			if r.tokens[len(r.tokens)-1] == EOS || len(r.tokens) >= p.cfg.MaxReplyTokens {
				r.done <- genResult{}
				return true
			}
			return false
		})
	}
}

func removeIf(rs []*genReq, drop func(*genReq) bool) []*genReq {
	out := rs[:0]
	for _, r := range rs {
		if !drop(r) {
			out = append(out, r)
		}
	}
	clear(rs[len(out):])
	return out
}

// bucket is the batch size of the graph that runs n windows: the next power of two,
// capped at MaxBatch, so a handful of graphs serve every n.
func (p *Policy) bucket(n int) int {
	b := 1
	for b < n {
		b *= 2
	}
	return min(b, p.cfg.MaxBatch)
}

// advance samples one token for each request of batch with one forward pass.
func (p *Policy) advance(ln *lane, batch []*genReq) error {
	b := p.bucket(len(batch))
	g := ln.graphs[b]
	if g == nil {
		var err error
		if g, err = newGraph(p.m, b, modeInfer); err != nil {
			return err
		}
		ln.graphs[b] = g
	}
	w, v := p.m.cfg.Window, p.m.tok.Size()
	if cap(ln.windows) < b*w {
		ln.windows, ln.dist = make([]int32, b*w), make([]float32, b*v)
	}
	windows, dist := ln.windows[:b*w], ln.dist[:b*v]
	for r := 0; r < b; r++ {
		src := batch[min(r, len(batch)-1)] // padding rows repeat the last request
		copy(windows[r*w:(r+1)*w], src.win)
	}
	p.m.mu.RLock()
	err := g.infer(windows, dist)
	p.m.mu.RUnlock()
	if err != nil {
		return err
	}
	for r, req := range batch {
		lp := dist[r*v : (r+1)*v]
		tok := sample(lp, req.rng.Float64())
		req.tokens = append(req.tokens, int32(tok))
		req.logprobs = append(req.logprobs, lp[tok])
		copy(req.win, req.win[1:])
		req.win[w-1] = int32(tok)
	}
	return nil
}

// sample inverts the CDF of exp(lp) at u in [0, 1): temperature 1, every token
// possible. Rounding that leaves u beyond the total picks the last token with a
// non-zero probability.
func sample(lp []float32, u float64) int {
	var cum float64
	last := 0
	for i, l := range lp {
		pr := math.Exp(float64(l))
		if pr == 0 {
			continue
		}
		cum += pr
		last = i
		if u < cum {
			return i
		}
	}
	return last
}

var (
	_ policy.Policy = (*Policy)(nil)
	_ policy.Loader = (*Policy)(nil)
)
