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

	infoLock chan struct{}              // held while learning the server's facts
	info     atomic.Pointer[serverInfo] // nil until learnt
	ends     endSet                     // ids that end a reply (int32 -> true)

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
		cfg:      cfg,
		base:     base,
		client:   cfg.HTTPClient,
		sem:      semaphore.NewWeighted(int64(cfg.MaxConcurrent)),
		rng:      rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
		infoLock: make(chan struct{}, 1),
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
	info, err := p.server(ctx, b)
	if err != nil {
		return policy.Reply{}, err
	}
	turns := req.Transcript.Turns()
	history, err := pastContext(turns)
	if err != nil {
		return policy.Reply{}, err
	}
	segment, err := p.tokenizeParts(ctx, b, info, p.segmentParts(req.Task, turns, history))
	if err != nil {
		return policy.Reply{}, err
	}
	prompt := append(history, segment...)
	budget := info.budget
	if len(prompt) >= budget {
		p.stats.overflows.Add(1)
		return policy.Reply{Prompt: segment, Overflow: true}, nil
	}

	s := sample{
		model:     p.cfg.ModelFor(req.Version),
		version:   req.Version,
		prompt:    prompt,
		maxTokens: min(p.cfg.MaxTurnTokens, budget-len(prompt)),
		stops:     info.stops,
	}
	if sd := p.cfg.Sampling.Seed; sd != nil {
		seed := requestSeed(*sd, req)
		s.seed = &seed
	}
	var out sampled
	switch info.kind {
	case ServerSGLang:
		out, err = p.generateSGLang(ctx, b, s)
	default:
		out, err = p.completeVLLM(ctx, b, s)
	}
	if err != nil {
		return policy.Reply{}, err
	}
	if out.finish == "stop" && len(out.tokens) > 0 {
		// Only a stop id ends a reply with "stop" (no stop strings are sent): the
		// server's own EOS ids (vLLM adds the generation config's) count from now on.
		p.ends.Store(out.tokens[len(out.tokens)-1], true)
	}
	p.stats.completions.Add(1)
	p.stats.promptTokens.Add(int64(len(prompt)))
	p.stats.outputTokens.Add(int64(len(out.tokens)))
	reply := policy.Reply{Text: out.text, Prompt: segment, Tokens: out.tokens, Logprobs: out.logprobs}
	if out.finish == "length" && len(prompt)+len(out.tokens) >= budget {
		reply.Overflow = true
		p.stats.overflows.Add(1)
	}
	return reply, nil
}

// sample is one sampling request, whatever the server.
type sample struct {
	model     string
	version   int
	prompt    []int32
	maxTokens int
	stops     []int32
	seed      *int
}

// sampled is a server's answer: the produced ids (with the stop id when the model
// ended its turn), their sampling log-probs, the text and why it stopped ("stop" or
// "length").
type sampled struct {
	text     string
	finish   string
	tokens   []int32
	logprobs []float32
}

// completeVLLM samples through vLLM's POST /v1/completions.
func (p *Policy) completeVLLM(ctx context.Context, b *retryBudget, s sample) (sampled, error) {
	creq := completionRequest{
		Model:                  s.model,
		Prompt:                 s.prompt,
		MaxTokens:              s.maxTokens,
		samplerFields:          p.cfg.Sampling.fields(),
		N:                      1,
		Logprobs:               0,
		ReturnTokensAsTokenIDs: true,
		ReturnTokenIDs:         true,
		SkipSpecialTokens:      false,
		StopTokenIDs:           s.stops,
		IncludeStopStrInOutput: false,
		Seed:                   s.seed,
	}
	var resp completionResponse
	if err := p.call(ctx, b, http.MethodPost, "/v1/completions", s.model, creq, &resp); err != nil {
		return sampled{}, err
	}
	return sampled{text: resp.text, finish: resp.finish, tokens: resp.tokens, logprobs: resp.logprobs}, nil
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

// tokenize asks the server for text's token ids, without special tokens added.
func (p *Policy) tokenize(ctx context.Context, b *retryBudget, text string) ([]int32, error) {
	var resp tokenizeResponse
	req := tokenizeRequest{Model: p.cfg.Model, Prompt: text, AddSpecialTokens: false}
	if err := p.call(ctx, b, http.MethodPost, "/tokenize", p.cfg.Model, req, &resp); err != nil {
		return nil, err
	}
	return resp.Tokens, nil
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
