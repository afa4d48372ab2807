package openai

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/swerl/swerl/policy"
)

// Models lists the model names the server serves (GET /v1/models).
func (p *Policy) Models(ctx context.Context) ([]string, error) {
	return p.models(ctx, p.newBudget())
}

func (p *Policy) models(ctx context.Context, b *retryBudget) ([]string, error) {
	var resp modelsResponse
	if err := p.call(ctx, b, http.MethodGet, "/v1/models", p.cfg.Model, nil, &resp); err != nil {
		return nil, err
	}
	names := make([]string, len(resp.Data))
	for i, m := range resp.Data {
		names[i] = m.ID
	}
	return names, nil
}

// Load checks that the server serves the model of policy version version
// (Config.ModelFor). It implements policy.Loader: the weights are published by the
// trainer, Load only makes sure the next Generate calls will find them. A model that
// is not listed is a fatal *policy.Error listing what is served.
func (p *Policy) Load(ctx context.Context, version int) error {
	return p.requireModel(ctx, p.newBudget(), p.cfg.ModelFor(version), fmt.Sprintf("policy version %d", version))
}

func (p *Policy) requireModel(ctx context.Context, b *retryBudget, model, what string) error {
	served, err := p.models(ctx, b)
	if err != nil {
		return err
	}
	if slices.Contains(served, model) {
		return nil
	}
	return &policy.Error{Err: fmt.Errorf("openai: %w: %s needs model %q, but %s/v1/models lists [%s] (check Config.Model, Config.ModelFor and the server's --served-model-name)",
		ErrNotServed, what, model, p.base, strings.Join(served, ", "))}
}

// Check is a preflight for command lines: the server lists Config.Model, /tokenize
// works, and the template's end-of-turn string is one token (whose id is then
// cached). Errors are as Generate's.
func (p *Policy) Check(ctx context.Context) error {
	b := p.newBudget()
	if err := p.requireModel(ctx, b, p.cfg.Model, "Config.Model"); err != nil {
		return err
	}
	ids, err := p.tokenize(ctx, b, "hello")
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return &policy.Error{Err: fmt.Errorf("openai: %s/tokenize turned %q into no tokens", p.base, "hello")}
	}
	_, err = p.endOfTurn(ctx, b)
	return err
}
