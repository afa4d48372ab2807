package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/swerl/swerl/cluster/wire"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/policy/openai"
)

// PolicyOpenAI is the wire kind of an OpenAI-compatible endpoint that workers call
// themselves: the config is the JSON of HTTPPolicy.
const PolicyOpenAI = "openai"

// HTTPPolicy is the part of an OpenAI-compatible client's settings a head ships to
// its workers, for one policy version: Model and WeightVersion are what serve it. The
// API key is not shipped (Proto.Actor's remote is plaintext): workers read theirs from
// $OPENAI_API_KEY.
type HTTPPolicy struct {
	Endpoint          string            `json:"endpoint"`
	Model             string            `json:"model"`
	WeightVersion     string            `json:"weight_version,omitempty"`
	Server            openai.ServerKind `json:"server,omitempty"`
	Sampling          openai.Sampling   `json:"sampling"`
	LogprobsProcessed bool              `json:"logprobs_processed,omitempty"`
	FitContext        openai.FitContext `json:"fit_context,omitempty"`
	MaxTurnTokens     int               `json:"max_turn_tokens,omitempty"`
	ContextBudget     int               `json:"context_budget,omitempty"`
	MaxConcurrent     int               `json:"max_concurrent,omitempty"`
}

// HTTPPolicyOf is the shippable part of cfg, for one policy version.
func HTTPPolicyOf(cfg openai.Config, version int) HTTPPolicy {
	p := HTTPPolicy{Endpoint: cfg.Endpoint, Model: cfg.Model, Server: cfg.Server, Sampling: cfg.Sampling,
		LogprobsProcessed: cfg.LogprobsProcessed, FitContext: cfg.FitContext, MaxTurnTokens: cfg.MaxTurnTokens,
		ContextBudget: cfg.ContextBudget, MaxConcurrent: cfg.MaxConcurrent}
	if cfg.ModelFor != nil {
		p.Model = cfg.ModelFor(version)
	}
	if cfg.WeightVersion != nil {
		p.WeightVersion = cfg.WeightVersion(version)
	}
	return p
}

// Wire encodes p for StartEpisode.
func (p HTTPPolicy) Wire() (*wire.Policy, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return &wire.Policy{Kind: PolicyOpenAI, Config: b}, nil
}

// Policies opens the policies a head ships, one client per distinct config.
type Policies struct {
	// APIKey is sent as the bearer token (default: $OPENAI_API_KEY).
	APIKey string

	mu   sync.Mutex
	open map[string]*openai.Policy
}

// Open returns the client of p.
func (ps *Policies) Open(p *wire.Policy) (policy.Policy, error) {
	if p.GetKind() != PolicyOpenAI {
		return nil, fmt.Errorf("policy kind %q: this worker calls %q endpoints only", p.GetKind(), PolicyOpenAI)
	}
	key := string(p.Config)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if pol, ok := ps.open[key]; ok {
		return pol, nil
	}
	var h HTTPPolicy
	if err := json.Unmarshal(p.Config, &h); err != nil {
		return nil, fmt.Errorf("policy config from the head: %w", err)
	}
	apiKey := ps.APIKey
	if apiKey == "" {
		apiKey = os.Getenv("OPENAI_API_KEY")
	}
	cfg := openai.Config{Endpoint: h.Endpoint, Model: h.Model, APIKey: apiKey, Server: h.Server, Sampling: h.Sampling,
		LogprobsProcessed: h.LogprobsProcessed, FitContext: h.FitContext, MaxTurnTokens: h.MaxTurnTokens,
		ContextBudget: h.ContextBudget, MaxConcurrent: h.MaxConcurrent}
	if h.WeightVersion != "" {
		wv := h.WeightVersion
		cfg.WeightVersion = func(int) string { return wv }
	}
	pol, err := openai.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("policy config from the head: %w", err)
	}
	if ps.open == nil {
		ps.open = map[string]*openai.Policy{}
	}
	ps.open[key] = pol
	return pol, nil
}

// generate calls p for one turn, as the head's inference actor would, and returns
// the reply or the failure to send to the episode.
func generate(ctx context.Context, p policy.Policy, m messages.GenerateRequest) any {
	if !m.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, m.Deadline)
		defer cancel()
	}
	begin := time.Now()
	r, err := p.Generate(ctx, policy.Request{Ref: m.Ref, Attempt: m.Attempt, Turn: m.Turn, Task: m.Task,
		Transcript: m.Transcript, Version: m.Ref.PolicyVersion})
	if err != nil {
		return messages.GenerateFailed{Ref: m.Ref, Attempt: m.Attempt, Turn: m.Turn,
			Failure: messages.Failure{Kind: messages.FailGenerate, Retryable: policy.IsRetryable(err), Cause: err.Error()}}
	}
	return messages.NewGenerateReply(messages.GenerateReply{Ref: m.Ref, Attempt: m.Attempt, Turn: m.Turn,
		PolicyVersion: m.Ref.PolicyVersion, Text: r.Text, Overflow: r.Overflow, Elapsed: time.Since(begin)},
		r.Tokens, r.Logprobs).WithPrompt(r.Prompt)
}
