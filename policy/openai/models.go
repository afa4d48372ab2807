package openai

import (
	"context"
	"errors"
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

// Load checks that the server serves policy version version, so that the next
// Generate calls sample from it. It implements policy.Loader: the weights are published
// by the trainer, Load only verifies. The model of the version (Config.ModelFor: the
// base model or a LoRA adapter) must be listed by /v1/models (both servers list loaded
// adapters). A trainer that updates SGLang's weights in place is checked by weight
// version: the one the server reports (GET /model_info; /get_model_info before 0.5.6)
// must be Config.WeightVersion(version), and so must every /generate answer's. A
// version not served is a fatal *policy.Error saying what is served.
func (p *Policy) Load(ctx context.Context, version int) error {
	b := p.newBudget()
	info, err := p.server(ctx, b)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("policy version %d", version)
	if err := p.requireModel(ctx, b, p.cfg.ModelFor(version), what); err != nil {
		return err
	}
	want, ok := p.weightVersion(version)
	if !ok || info.kind != ServerSGLang {
		return nil
	}
	var mi weightVersionResponse
	path, missing, err := p.getFirst(ctx, b, &mi, "/model_info", "/get_model_info")
	if err != nil {
		return err
	}
	if path == "" {
		return &policy.Error{Err: fmt.Errorf("openai: %s reports no weight version (%s)", p.base, strings.Join(missing, ", "))}
	}
	if mi.WeightVersion != want {
		return &policy.Error{Err: fmt.Errorf("openai: %w: %s needs weight version %q, but %s%s reports %q (the trainer must update the weights with weight_version %q before it reports the version served)",
			ErrNotServed, what, want, p.base, path, mi.WeightVersion, want)}
	}
	return nil
}

// weightVersion is the weight version that serves policy version, and whether it is
// checked.
func (p *Policy) weightVersion(version int) (string, bool) {
	if p.cfg.WeightVersion == nil {
		return "", false
	}
	v := p.cfg.WeightVersion(version)
	return v, v != ""
}

type weightVersionResponse struct {
	WeightVersion string `json:"weight_version"`
}

func (r *weightVersionResponse) check() *attemptError {
	if r.WeightVersion == "" {
		return fatal(errors.New(`answer has no "weight_version"`))
	}
	return nil
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

// Check is a preflight for command lines: the server lists Config.Model, its kind
// and version are supported, and the facts every request depends on are learnt and
// cached: the context length (ContextBudget is clamped to it, or Check fails, see
// Config.FitContext), the end-of-turn, stop and special token ids. Errors are as
// Generate's.
func (p *Policy) Check(ctx context.Context) error {
	b := p.newBudget()
	if err := p.requireModel(ctx, b, p.cfg.Model, "Config.Model"); err != nil {
		return err
	}
	_, err := p.server(ctx, b)
	return err
}
