package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/swerl/swerl/policy"
)

// serverInfo is what the Policy learns about its server once, before the first
// completion: the kind and version, the context it accepts, and the token ids that
// matter (end of turn, stops, specials).
type serverInfo struct {
	kind    ServerKind
	version string
	// maxModelLen is the model's context length as the server reports it; budget is
	// the context budget in force: ContextBudget, clamped to what the server accepts.
	maxModelLen int
	limit       int // the largest budget every request of which the server accepts
	budget      int
	// SGLang: its scheduler's max_req_input_len (/server_info), 0 when not reported.
	maxReqInput int
	eot         int32
	stops       []int32          // sent as stop ids: eot first
	specials    map[string]int32 // special tokens as text -> id (one token each)
	specialIDs  map[int32]bool
}

// Info is what Check learnt about the server.
type Info struct {
	Server        ServerKind
	Version       string
	MaxModelLen   int // the model's context length as the server reports it
	ContextBudget int // the budget in force: Config.ContextBudget, clamped to the server's limit
	EndOfTurn     int32
	StopIDs       []int32
}

// Info returns what Check learnt (ok is false before it has succeeded).
func (p *Policy) Info() (info Info, ok bool) {
	si := p.info.Load()
	if si == nil {
		return Info{}, false
	}
	return Info{Server: si.kind, Version: si.version, MaxModelLen: si.maxModelLen, ContextBudget: si.budget,
		EndOfTurn: si.eot, StopIDs: append([]int32(nil), si.stops...)}, true
}

// server returns the server's facts, learning them on first use.
func (p *Policy) server(ctx context.Context, b *retryBudget) (*serverInfo, error) {
	if si := p.info.Load(); si != nil {
		return si, nil
	}
	select {
	case p.infoLock <- struct{}{}:
	case <-ctx.Done():
		return nil, contextError(ctx, http.MethodGet, p.base, nil)
	}
	defer func() { <-p.infoLock }()
	if si := p.info.Load(); si != nil {
		return si, nil
	}
	si, err := p.discover(ctx, b)
	if err != nil {
		return nil, err
	}
	p.info.Store(si)
	return si, nil
}

// discover learns the server's kind, version and limits, and the token ids of the
// template's end of turn, the stop tokens and the special tokens.
func (p *Policy) discover(ctx context.Context, b *retryBudget) (*serverInfo, error) {
	si := &serverInfo{kind: p.cfg.Server}
	if err := p.identify(ctx, b, si); err != nil {
		return nil, err
	}
	if err := p.readLimit(ctx, b, si); err != nil {
		return nil, err
	}
	limit := si.limit
	si.budget = p.cfg.ContextBudget
	if limit > 0 && si.budget > limit {
		if p.cfg.FitContext == FitRefuse {
			return nil, &policy.Error{Err: fmt.Errorf(
				"openai: Config.ContextBudget %d is more than %s (%s %s) accepts for model %q: max_model_len %d, so a context above %d tokens would be refused; lower the budget (swerl rollout --context %d) or allow clamping (--fit-context clamp)",
				p.cfg.ContextBudget, p.base, si.kind, si.version, p.cfg.Model, si.maxModelLen, limit, limit)}
		}
		si.budget = limit
	}

	eot, err := p.oneToken(ctx, b, p.cfg.Template.EndOfTurn, "the end-of-turn string", "Config.Template.EndOfTurn")
	if err != nil {
		return nil, err
	}
	si.eot = eot
	si.stops = []int32{eot}
	for _, s := range p.cfg.StopTokens {
		id, err := p.oneToken(ctx, b, s, "the stop token", "Config.StopTokens")
		if err != nil {
			return nil, err
		}
		if id != eot {
			si.stops = append(si.stops, id)
		}
	}
	if si.kind == ServerSGLang && !p.cfg.Sampling.untruncated() {
		return nil, &policy.Error{Err: fmt.Errorf(
			"openai: Config.Sampling %s truncates the distribution, but %s is SGLang, whose log-probs are taken before top-k, top-p and min-p (python/sglang/srt/layers/sampler.py): the recorded log-probs would not be the sampling ones; use top_p 1, top_k -1, min_p 0",
			p.cfg.Sampling, p.base)}
	}
	if si.specials, err = p.specialIDs(ctx, b); err != nil {
		return nil, err
	}
	si.specialIDs = map[int32]bool{}
	for _, id := range si.specials {
		si.specialIDs[id] = true
	}
	for _, id := range si.stops {
		p.ends.Store(id, true)
	}
	return si, nil
}

// oneToken tokenizes s, which must be exactly one token.
func (p *Policy) oneToken(ctx context.Context, b *retryBudget, s, what, field string) (int32, error) {
	ids, err := p.tokenize(ctx, b, s)
	if err != nil {
		return 0, err
	}
	if len(ids) != 1 {
		return 0, &policy.Error{Err: fmt.Errorf(
			"openai: %s %q is %d tokens %v for model %q at %s; it must be exactly one token (check %s against the model's chat template)",
			what, s, len(ids), ids, p.cfg.Model, p.base, field)}
	}
	return ids[0], nil
}

// specialIDs learns which of Config.SpecialTokens the server's tokenizer turns into
// one token, and their ids. All of them in one request when each is one token (the
// usual case), else one request each.
func (p *Policy) specialIDs(ctx context.Context, b *retryBudget) (map[string]int32, error) {
	out := map[string]int32{}
	if len(p.cfg.SpecialTokens) == 0 {
		return out, nil
	}
	ids, err := p.tokenize(ctx, b, strings.Join(p.cfg.SpecialTokens, ""))
	if err != nil {
		return nil, err
	}
	if len(ids) == len(p.cfg.SpecialTokens) {
		for i, s := range p.cfg.SpecialTokens {
			out[s] = ids[i]
		}
		return out, nil
	}
	for _, s := range p.cfg.SpecialTokens {
		ids, err := p.tokenize(ctx, b, s)
		if err != nil {
			return nil, err
		}
		if len(ids) == 1 && len(s) > 1 {
			out[s] = ids[0]
		}
	}
	return out, nil
}

// endsTurn reports whether id ends a reply: the end of turn, a stop token, or any id a
// server ended a reply with.
func (p *Policy) endsTurn(id int32) bool {
	_, ok := p.ends.Load(id)
	return ok
}

// errUnsupported marks a server kind or version the client cannot speak exactly.
var errUnsupported = errors.New("unsupported server")

// endSet is the set of ids that end a reply; it only grows.
type endSet = sync.Map

// Supported server versions: the oldest of each kind that has every endpoint and
// field this client uses.
const (
	MinVLLMVersion   = "0.10.2" // return_token_ids on /v1/completions
	MinSGLangVersion = "0.5.4"  // /tokenize (0.5.3.post1); output_ids in /generate (0.5.0)
)

type versionResponse struct {
	Version string `json:"version"`
	// SGLang's /server_info also reports its scheduler's limits, at the top level or
	// (some versions) under scheduler_info.
	MaxReqInputLen int `json:"max_req_input_len"`
	SchedulerInfo  struct {
		MaxReqInputLen int `json:"max_req_input_len"`
	} `json:"scheduler_info"`
}

func (r *versionResponse) check() *attemptError {
	if r.Version == "" {
		return fatal(errors.New(`answer has no "version"`))
	}
	return nil
}

// getFirst GETs the first of paths that the server has (a 404 tries the next one),
// and says which one answered; with none, it returns the 404s it got.
func (p *Policy) getFirst(ctx context.Context, b *retryBudget, out any, paths ...string) (string, []string, error) {
	var missing []string
	for _, path := range paths {
		err := p.call(ctx, b, http.MethodGet, path, p.cfg.Model, nil, out)
		switch {
		case err == nil:
			return path, nil, nil
		case isStatus(err, http.StatusNotFound):
			missing = append(missing, "GET "+path+": 404")
		default:
			return "", nil, err
		}
	}
	return "", missing, nil
}

// identify finds the server's kind (unless configured) and version, and refuses a
// version older than the supported one. vLLM answers GET /version
// (vllm/entrypoints/openai/api_server.py); SGLang has no /version but answers GET
// /server_info (before 0.5.6: /get_server_info, still served) with its version and
// server arguments (python/sglang/srt/entrypoints/http_server.py).
func (p *Policy) identify(ctx context.Context, b *retryBudget, si *serverInfo) error {
	var tried []string
	if si.kind == ServerAuto || si.kind == ServerVLLM {
		var v versionResponse
		path, missing, err := p.getFirst(ctx, b, &v, "/version")
		if err != nil {
			return err
		}
		if path != "" {
			si.kind, si.version = ServerVLLM, v.Version
		}
		tried = append(tried, missing...)
	}
	if si.version == "" && (si.kind == ServerAuto || si.kind == ServerSGLang) {
		var v versionResponse
		path, missing, err := p.getFirst(ctx, b, &v, "/server_info", "/get_server_info")
		if err != nil {
			return err
		}
		if path != "" {
			si.kind, si.version = ServerSGLang, v.Version
			si.maxReqInput = max(v.MaxReqInputLen, v.SchedulerInfo.MaxReqInputLen)
		}
		tried = append(tried, missing...)
	}
	if si.version == "" {
		what := "a vLLM or SGLang server"
		if p.cfg.Server != ServerAuto {
			what = "a " + string(p.cfg.Server) + " server"
		}
		return &policy.Error{Err: fmt.Errorf("openai: %w: %s is not %s (%s); swerl samples exactly through vLLM's /v1/completions or SGLang's /generate only",
			errUnsupported, p.base, what, strings.Join(tried, ", "))}
	}
	min := MinVLLMVersion
	if si.kind == ServerSGLang {
		min = MinSGLangVersion
	}
	if compareVersions(si.version, min) < 0 {
		return &policy.Error{Err: fmt.Errorf("openai: %w: %s is %s %s; swerl needs %s %s or newer for exact token ids and log-probs (upgrade the server)",
			errUnsupported, p.base, si.kind, si.version, si.kind, min)}
	}
	return nil
}

// isStatus reports whether err is an answer with the given status.
func isStatus(err error, status int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == status
}

// compareVersions compares dotted version strings numerically, ignoring anything
// after the first character that is neither digit nor dot ("0.11.0rc1", "0.5.1.post2",
// "0.10.2+cu128"): -1, 0 or 1.
func compareVersions(a, b string) int {
	parse := func(s string) []int {
		s = strings.TrimPrefix(s, "v")
		var out []int
		n, digits := 0, false
		for _, r := range s {
			switch {
			case r >= '0' && r <= '9':
				n, digits = n*10+int(r-'0'), true
			case r == '.' && digits:
				out, n, digits = append(out, n), 0, false
			default:
				if digits {
					out = append(out, n)
				}
				return out
			}
		}
		if digits {
			out = append(out, n)
		}
		return out
	}
	x, y := parse(a), parse(b)
	for i := range max(len(x), len(y)) {
		var u, v int
		if i < len(x) {
			u = x[i]
		}
		if i < len(y) {
			v = y[i]
		}
		if u != v {
			if u < v {
				return -1
			}
			return 1
		}
	}
	return 0
}

// readLimit reads the model's context length (both servers report max_model_len for
// each model of GET /v1/models) and sets the largest budget the server accepts
// every request of:
//   - vLLM refuses prompt + max_tokens > max_model_len (the renderer's and
//     serving_engine.py's input checks): the budget may be max_model_len.
//   - SGLang refuses prompt >= context_len and prompt + max_new_tokens > context_len
//     (managers/tokenizer_manager.py, _validate_one_request), refuses a prompt of
//     max_req_input_len tokens or more (managers/utils.py, validate_input_length;
//     min(context_len-1, KV pool-1) - 5, reported by /server_info) and silently cuts
//     max_new_tokens to max_req_input_len + 4 - prompt (managers/scheduler.py,
//     init_req_max_new_tokens): the budget may be max_req_input_len (context_len - 6
//     when not reported).
func (p *Policy) readLimit(ctx context.Context, b *retryBudget, si *serverInfo) error {
	var cards modelsResponse
	if err := p.call(ctx, b, http.MethodGet, "/v1/models", p.cfg.Model, nil, &cards); err != nil {
		return err
	}
	var listed []string
	for _, m := range cards.Data {
		listed = append(listed, m.ID)
		if m.ID == p.cfg.Model {
			si.maxModelLen = m.MaxModelLen
		}
	}
	if si.maxModelLen <= 0 {
		return &policy.Error{Err: fmt.Errorf("openai: %s/v1/models reports no max_model_len for model %q (listed: [%s]); swerl needs the server's context length to keep every request within it (check Config.Model)",
			p.base, p.cfg.Model, strings.Join(listed, ", "))}
	}
	si.limit = si.maxModelLen
	if si.kind == ServerSGLang {
		si.limit = si.maxModelLen - 6
		if si.maxReqInput > 0 {
			si.limit = min(si.limit, si.maxReqInput)
		}
	}
	return nil
}
