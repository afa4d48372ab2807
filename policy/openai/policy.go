package openai

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/semaphore"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/swe"
)

var (
	_ policy.Policy = (*Policy)(nil)
	_ policy.Loader = (*Policy)(nil)
)

// Policy samples replies from an OpenAI-compatible server, token ids in and out. It
// is safe for concurrent use.
type Policy struct {
	cfg       Config
	base      string // the server's root URL: no trailing slash, no /v1
	client    *http.Client
	ownClient bool
	sem       *semaphore.Weighted

	rngMu sync.Mutex
	rng   *rand.Rand

	eotLock chan struct{} // held while learning the end-of-turn id
	eot     atomic.Int64  // end-of-turn id + 1; 0 until learnt

	stats counters
}

// New validates cfg, fills its defaults and returns a Policy. It makes no request;
// Check tries the server.
func New(cfg Config) (*Policy, error) {
	cfg, base, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Policy{
		cfg:     cfg,
		base:    base,
		client:  cfg.HTTPClient,
		sem:     semaphore.NewWeighted(int64(cfg.MaxConcurrent)),
		rng:     rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
		eotLock: make(chan struct{}, 1),
	}
	if p.client == nil {
		p.client, p.ownClient = defaultClient(cfg.MaxConcurrent), true
	}
	return p, nil
}

// Config returns the configuration with its defaults filled in.
func (p *Policy) Config() Config { return p.cfg }

// CloseIdleConnections closes the idle keep-alive connections of the Policy's own
// HTTP client (not of a Config.HTTPClient). The Policy stays usable.
func (p *Policy) CloseIdleConnections() {
	if p.ownClient {
		p.client.CloseIdleConnections()
	}
}

// Generate samples the next reply of req's episode. See the package documentation for
// the context it sends, the budget and the errors.
func (p *Policy) Generate(ctx context.Context, req policy.Request) (policy.Reply, error) {
	p.stats.generates.Add(1)
	b := p.newBudget()
	eot, err := p.endOfTurn(ctx, b)
	if err != nil {
		return policy.Reply{}, err
	}
	turns := req.Transcript.Turns()
	history, err := pastContext(turns)
	if err != nil {
		return policy.Reply{}, err
	}
	segment, err := p.tokenize(ctx, b, p.segmentText(req.Task, turns, history, eot))
	if err != nil {
		return policy.Reply{}, err
	}
	prompt := append(history, segment...)
	budget := p.cfg.ContextBudget
	if len(prompt) >= budget {
		p.stats.overflows.Add(1)
		return policy.Reply{Prompt: segment, Overflow: true}, nil
	}

	model := p.cfg.ModelFor(req.Version)
	creq := completionRequest{
		Model:                  model,
		Prompt:                 prompt,
		MaxTokens:              min(p.cfg.MaxTurnTokens, budget-len(prompt)),
		Temperature:            p.cfg.Sampling.Temperature,
		TopP:                   p.cfg.Sampling.TopP,
		TopK:                   p.cfg.Sampling.TopK,
		MinP:                   p.cfg.Sampling.MinP,
		N:                      1,
		Logprobs:               0,
		ReturnTokensAsTokenIDs: true,
		ReturnTokenIDs:         true,
		SkipSpecialTokens:      true,
		StopTokenIDs:           []int32{eot},
		IncludeStopStrInOutput: false,
	}
	if s := p.cfg.Sampling.Seed; s != nil {
		seed := requestSeed(*s, req)
		creq.Seed = &seed
	}
	var resp completionResponse
	if err := p.call(ctx, b, http.MethodPost, "/v1/completions", model, creq, &resp); err != nil {
		return policy.Reply{}, err
	}
	p.stats.completions.Add(1)
	p.stats.promptTokens.Add(int64(len(prompt)))
	p.stats.outputTokens.Add(int64(len(resp.tokens)))
	reply := policy.Reply{Text: resp.text, Prompt: segment, Tokens: resp.tokens, Logprobs: resp.logprobs}
	if resp.finish == "length" && len(prompt)+len(resp.tokens) >= budget {
		reply.Overflow = true
		p.stats.overflows.Add(1)
	}
	return reply, nil
}

// pastContext is the context the model has seen: every turn's prompt tokens, then its
// assistant tokens. It is a new slice, with room for the next segment.
func pastContext(turns []messages.Turn) ([]int32, error) {
	n := 0
	for i, t := range turns {
		// Every turn of a token-in policy has prompt ids; its reply may be empty.
		if t.NumPromptTokens() == 0 {
			return nil, &policy.Error{Err: fmt.Errorf(
				"openai: transcript turn %d has %d prompt and %d assistant token ids: it was not produced by a token-in policy, and past turns are never re-tokenized",
				i, t.NumPromptTokens(), t.NumTokens())}
		}
		n += t.NumPromptTokens() + t.NumTokens()
	}
	history := make([]int32, 0, n+512)
	for _, t := range turns {
		history = t.AppendPrompt(history)
		history = t.AppendTokens(history)
	}
	return history, nil
}

// segmentText is the text that goes between the context and the new reply: the system
// and first user messages on the first turn; later, the end of the last reply (if the
// model did not write its end-of-turn token), the separator and the last observation.
func (p *Policy) segmentText(task messages.TaskRef, turns []messages.Turn, history []int32, eot int32) string {
	t := p.cfg.Template
	if len(turns) == 0 {
		return t.system(p.cfg.SystemPrompt) + t.user(swe.FirstMessage(task)) + t.AssistantStart
	}
	var s string
	if history[len(history)-1] != eot {
		s = t.EndOfTurn
	}
	return s + t.Separator + t.user(turns[len(turns)-1].Observation) + t.AssistantStart
}

// tokenize asks the server for text's token ids, without special tokens added.
func (p *Policy) tokenize(ctx context.Context, b *retryBudget, text string) ([]int32, error) {
	var resp tokenizeResponse
	req := tokenizeRequest{Model: p.cfg.Model, Prompt: text, AddSpecialTokens: false}
	if err := p.call(ctx, b, http.MethodPost, "/tokenize", p.cfg.Model, req, &resp); err != nil {
		return nil, err
	}
	return resp.Tokens, nil
}

// endOfTurn returns the end-of-turn token id, learning it on first use.
func (p *Policy) endOfTurn(ctx context.Context, b *retryBudget) (int32, error) {
	if v := p.eot.Load(); v != 0 {
		return int32(v - 1), nil
	}
	select {
	case p.eotLock <- struct{}{}:
	case <-ctx.Done():
		return 0, contextError(ctx, http.MethodPost, p.base+"/tokenize", nil)
	}
	defer func() { <-p.eotLock }()
	if v := p.eot.Load(); v != 0 {
		return int32(v - 1), nil
	}
	ids, err := p.tokenize(ctx, b, p.cfg.Template.EndOfTurn)
	if err != nil {
		return 0, err
	}
	if len(ids) != 1 {
		return 0, &policy.Error{Err: fmt.Errorf(
			"openai: the end-of-turn string %q is %d tokens %v for model %q at %s/tokenize; it must be exactly one token (check Config.Template.EndOfTurn against the model's chat template)",
			p.cfg.Template.EndOfTurn, len(ids), ids, p.cfg.Model, p.base)}
	}
	p.eot.Store(int64(ids[0]) + 1)
	return ids[0], nil
}

// requestSeed derives a request's seed from the configured one and the request's
// identity, so that the samples of a group differ.
func requestSeed(seed int, req policy.Request) int {
	h := fnv.New64a()
	r := req.Ref
	fmt.Fprintf(h, "%d|%d|%d|%d|%d|%s|%d|%d", seed, r.Iteration, r.PolicyVersion, r.Group, r.Sample, r.TaskID, req.Attempt, req.Turn)
	return int(h.Sum64() & 0x7fffffff)
}

// ErrNotServed marks Load and Check failures where the server answers but does not
// serve the model.
var ErrNotServed = errors.New("model not served")
