package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/swerl/swerl/swe"
)

// Defaults filled in by New for zero fields.
const (
	DefaultMaxTurnTokens  = 4096
	DefaultContextBudget  = 65536 // PAPER.md: 65k context in RL stage 1
	DefaultRequestTimeout = 10 * time.Minute
	DefaultMaxRetries     = 4
	DefaultBackoffBase    = 500 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
	DefaultMaxConcurrent  = 64
)

// Content is the placeholder that Template.System and Template.User replace with the
// message's text.
const Content = "{content}"

// Sampling holds the sampler settings sent with every completion. New turns zero
// fields into the neutral sampler that RL needs (PAPER.md: a truncated or penalised
// sampler biases the importance ratio): temperature 1, top_p 1, top_k -1, min_p 0,
// repetition penalty 1, presence and frequency penalties 0. Every field is always sent,
// so a server-side default (vLLM and SGLang fill left-out fields from the model's
// generation_config.json; Qwen2.5-Instruct's has repetition_penalty 1.05) can never
// change them. Anything but the neutral sampler needs Config.LogprobsProcessed.
type Sampling struct {
	Temperature       float64 // 0 means 1; the servers accept [MinTemperature, MaxTemperature]
	TopP              float64 // 0 means 1
	TopK              int     // 0 means -1 (off)
	MinP              float64 // 0 (off)
	RepetitionPenalty float64 // 0 means 1 (off)
	PresencePenalty   float64 // 0 (off)
	FrequencyPenalty  float64 // 0 (off)
	// Seed, when set, seeds each request with a value derived from it and the
	// request's identity (episode, attempt, turn), so that the samples of a group
	// differ and a rerun repeats them on a server that honours seeds.
	Seed *int
}

// Template holds the chat template as strings, for rendering the text between
// assistant turns. The zero value is ChatML as Qwen2.5 writes it.
type Template struct {
	System         string // a system message, with Content where its text goes
	User           string // a user message, with Content where its text goes
	AssistantStart string // opens the assistant's reply
	EndOfTurn      string // closes an assistant reply; must be exactly one token
	Separator      string // follows EndOfTurn after an assistant reply
}

// ChatML is the default template (Qwen2.5's).
var ChatML = Template{
	System:         "<|im_start|>system\n" + Content + "<|im_end|>\n",
	User:           "<|im_start|>user\n" + Content + "<|im_end|>\n",
	AssistantStart: "<|im_start|>assistant\n",
	EndOfTurn:      "<|im_end|>",
	Separator:      "\n",
}

// ChatMLSpecials are Qwen2.5's added tokens (tokenizer_config.json's
// added_tokens_decoder): the strings its tokenizer turns into one control token
// wherever they appear in text.
var ChatMLSpecials = []string{
	"<|endoftext|>", "<|im_start|>", "<|im_end|>",
	"<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
	"<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
	"<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>",
	"<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
	"<|repo_name|>", "<|file_sep|>",
}

// ChatMLStops are the stop tokens besides <|im_end|>: Qwen2.5-Instruct's
// generation_config.json lists eos_token_id [151645, 151643], <|im_end|> and
// <|endoftext|>.
var ChatMLStops = []string{"<|endoftext|>"}

// Temperatures the servers sample with as asked: vLLM raises any temperature below
// 0.01 to 0.01 (and 0 is greedy).
const (
	MinTemperature = 0.01
	MaxTemperature = 100
)

// Neutral reports whether s samples from the model's own distribution: temperature 1,
// no filter, no penalty.
func (s Sampling) Neutral() bool {
	return s.Temperature == 1 && s.TopP == 1 && (s.TopK == -1 || s.TopK == 0) && s.MinP == 0 &&
		(s.RepetitionPenalty == 1 || s.RepetitionPenalty == 0) && s.PresencePenalty == 0 && s.FrequencyPenalty == 0
}

// untruncated reports whether s keeps every token: no top-p, top-k or min-p.
func (s Sampling) untruncated() bool {
	return s.TopP == 1 && (s.TopK == -1 || s.TopK == 0) && s.MinP == 0
}

func (s Sampling) String() string {
	return fmt.Sprintf("{temperature %v, top_p %v, top_k %d, min_p %v, repetition_penalty %v, presence_penalty %v, frequency_penalty %v}",
		s.Temperature, s.TopP, s.TopK, s.MinP, s.RepetitionPenalty, s.PresencePenalty, s.FrequencyPenalty)
}

// ServerKind names the kind of inference server.
type ServerKind string

const (
	ServerAuto   ServerKind = ""       // detect at Check
	ServerVLLM   ServerKind = "vllm"   // vLLM's OpenAI-compatible server
	ServerSGLang ServerKind = "sglang" // SGLang's server, through its native /generate
)

// FitContext is what Check does with a ContextBudget above the server's limit.
type FitContext string

const (
	FitClamp  FitContext = "clamp"  // lower the budget to the server's limit
	FitRefuse FitContext = "refuse" // fail Check
)

func (t Template) system(text string) string { return strings.Replace(t.System, Content, text, 1) }
func (t Template) user(text string) string   { return strings.Replace(t.User, Content, text, 1) }

// Config configures a Policy. Zero fields take the defaults above.
type Config struct {
	// Endpoint is the server's base URL, with or without a trailing /v1
	// ("http://host:8000" or "http://host:8000/v1").
	Endpoint string
	// Model is the served model name; it also names the tokenizer for /tokenize.
	Model string
	// APIKey, if set, is sent as a Bearer token.
	APIKey string
	// Server is the kind of server: ServerVLLM or ServerSGLang; empty means detect it
	// at Check (or the first Generate). Each kind is spoken through its exact path
	// (vLLM: /v1/completions; SGLang: its native /generate).
	Server   ServerKind
	Sampling Sampling
	// LogprobsProcessed states that the server returns the log-probs of the
	// distribution it samples from, after temperature, penalties and filters (vLLM:
	// --logprobs-mode processed_logprobs; its default, raw_logprobs, is before them).
	// Without it only the neutral sampler is allowed: any other makes the recorded
	// log-probs differ from the sampling ones with no error.
	LogprobsProcessed bool
	// FitContext says what Check does when ContextBudget exceeds what the server
	// accepts (its max_model_len): FitClamp (the default) lowers the budget to it,
	// FitRefuse fails.
	FitContext FitContext
	// SpecialTokens are the tokenizer's special tokens as text. Text from the
	// environment and the task (the issue, observations) never becomes one of them:
	// it is tokenized with every occurrence split. Nil means ChatMLSpecials; the
	// strings the server's tokenizer does not treat as one token are ignored.
	SpecialTokens []string
	// StopTokens are tokens, besides Template.EndOfTurn, that end a reply (sent as
	// stop ids; a reply ending in one gets no second end-of-turn token). Nil means
	// ChatMLStops. Any id a server ends a reply with (vLLM adds the generation
	// config's EOS ids) also counts.
	StopTokens []string
	// MaxTurnTokens caps the tokens of one reply (max_tokens).
	MaxTurnTokens int
	// ContextBudget is the most tokens of the whole context (every turn's prompt and
	// reply); a reply that would need more ends the episode with Overflow.
	ContextBudget int
	Template      Template
	// SystemPrompt is the system message; empty means swe.SystemPrompt.
	SystemPrompt string
	// RequestTimeout bounds one HTTP attempt (ctx bounds the whole call).
	RequestTimeout time.Duration
	// MaxRetries is the number of retries one Generate (or Load, Check) may spend
	// on retryable failures; 0 means DefaultMaxRetries, negative means none.
	MaxRetries int
	// BackoffBase and BackoffMax shape the wait before retry n: uniform in
	// [0, min(BackoffMax, BackoffBase*2^n)) (full jitter). BackoffMax also caps a
	// server's Retry-After.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// Seed seeds the jitter.
	Seed uint64
	// MaxConcurrent caps the HTTP requests in flight from this Policy.
	MaxConcurrent int
	// HTTPClient sends the requests; nil means a client of this Policy's own, with
	// keep-alive connections for MaxConcurrent requests and no overall timeout.
	HTTPClient *http.Client
	// ModelFor names the served model that samples policy version k; nil means
	// always Model.
	ModelFor func(version int) string
	// WeightVersion names the weight version an SGLang server reports while it serves
	// policy version k (its --weight-version, or the weight_version the trainer gave
	// /update_weights_from_disk); "" leaves version k unchecked, and nil every version.
	WeightVersion func(version int) string
	// Sleep waits d or until ctx is done (returning its error); nil means a timer.
	// Tests replace it to make backoff instant and observable.
	Sleep func(ctx context.Context, d time.Duration) error
}

// withDefaults validates c and fills its zero fields. It returns the base URL (no
// trailing slash, no /v1).
func (c Config) withDefaults() (Config, string, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	base, err := baseURL(c.Endpoint)
	if err != nil {
		bad("%v", err)
	}
	if c.Model == "" {
		bad("Config.Model is required (the served model name, as /v1/models lists it)")
	}

	s := &c.Sampling
	if s.Temperature == 0 {
		s.Temperature = 1
	}
	if s.TopP == 0 {
		s.TopP = 1
	}
	if s.TopK == 0 {
		s.TopK = -1
	}
	if s.RepetitionPenalty == 0 {
		s.RepetitionPenalty = 1
	}
	if s.Temperature < MinTemperature || s.Temperature > MaxTemperature {
		bad("Config.Sampling.Temperature = %v: must be in [%v, %v] (0 means 1); below %v vLLM changes the temperature it samples with, and 0 is greedy, which RL cannot learn from",
			s.Temperature, MinTemperature, MaxTemperature, MinTemperature)
	}
	if s.RepetitionPenalty < 0 {
		bad("Config.Sampling.RepetitionPenalty = %v: must be positive (0 means 1, off)", s.RepetitionPenalty)
	}
	if s.PresencePenalty < -2 || s.PresencePenalty > 2 {
		bad("Config.Sampling.PresencePenalty = %v: must be in [-2, 2]", s.PresencePenalty)
	}
	if s.FrequencyPenalty < -2 || s.FrequencyPenalty > 2 {
		bad("Config.Sampling.FrequencyPenalty = %v: must be in [-2, 2]", s.FrequencyPenalty)
	}
	if s.TopP < 0 || s.TopP > 1 {
		bad("Config.Sampling.TopP = %v: must be in (0, 1] (0 means 1)", s.TopP)
	}
	if s.TopK < -1 {
		bad("Config.Sampling.TopK = %d: must be -1 (off) or positive", s.TopK)
	}
	if s.MinP < 0 || s.MinP > 1 {
		bad("Config.Sampling.MinP = %v: must be in [0, 1]", s.MinP)
	}

	if !s.Neutral() && !c.LogprobsProcessed {
		bad("Config.Sampling %s is not the neutral sampler (temperature 1, top_p 1, top_k -1, min_p 0, repetition penalty 1, presence and frequency penalties 0): the servers return log-probs before penalties and temperature by default (vLLM's --logprobs-mode raw_logprobs), so the recorded log-probs would not be the sampling ones; use the neutral sampler, or run vLLM with --logprobs-mode processed_logprobs and set Config.LogprobsProcessed (swerl rollout --logprobs-processed)", s)
	}
	switch c.Server {
	case ServerAuto, ServerVLLM, ServerSGLang:
	default:
		bad("Config.Server = %q: want %q, %q or empty (detect)", c.Server, ServerVLLM, ServerSGLang)
	}
	switch c.FitContext {
	case "":
		c.FitContext = FitClamp
	case FitClamp, FitRefuse:
	default:
		bad("Config.FitContext = %q: want %q or %q", c.FitContext, FitClamp, FitRefuse)
	}
	if c.SpecialTokens == nil {
		c.SpecialTokens = ChatMLSpecials
	}
	if c.StopTokens == nil {
		c.StopTokens = ChatMLStops
	}
	fill := func(name string, v *int, def int) {
		if *v == 0 {
			*v = def
		} else if *v < 0 {
			bad("Config.%s = %d: must be positive", name, *v)
		}
	}
	fill("MaxTurnTokens", &c.MaxTurnTokens, DefaultMaxTurnTokens)
	fill("ContextBudget", &c.ContextBudget, DefaultContextBudget)
	fill("MaxConcurrent", &c.MaxConcurrent, DefaultMaxConcurrent)
	fillDur := func(name string, v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		} else if *v < 0 {
			bad("Config.%s = %v: must be positive", name, *v)
		}
	}
	fillDur("RequestTimeout", &c.RequestTimeout, DefaultRequestTimeout)
	fillDur("BackoffBase", &c.BackoffBase, DefaultBackoffBase)
	fillDur("BackoffMax", &c.BackoffMax, DefaultBackoffMax)
	if c.BackoffMax < c.BackoffBase {
		bad("Config.BackoffMax (%v) must not be below Config.BackoffBase (%v)", c.BackoffMax, c.BackoffBase)
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}

	if c.Template == (Template{}) {
		c.Template = ChatML
	}
	t := c.Template
	if strings.Count(t.System, Content) != 1 {
		bad("Config.Template.System must hold %q exactly once", Content)
	}
	if strings.Count(t.User, Content) != 1 {
		bad("Config.Template.User must hold %q exactly once", Content)
	}
	if t.AssistantStart == "" {
		bad("Config.Template.AssistantStart is required")
	}
	if t.EndOfTurn == "" {
		bad("Config.Template.EndOfTurn is required (one token, e.g. <|im_end|>)")
	}
	if c.SystemPrompt == "" {
		c.SystemPrompt = swe.SystemPrompt
	}
	if c.ModelFor == nil {
		model := c.Model
		c.ModelFor = func(int) string { return model }
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	if len(errs) > 0 {
		return c, "", fmt.Errorf("openai: invalid config: %w", errors.Join(errs...))
	}
	return c, base, nil
}

// baseURL checks an endpoint and returns it without a trailing slash or /v1.
func baseURL(endpoint string) (string, error) {
	if endpoint == "" {
		return "", errors.New("Config.Endpoint is required (e.g. http://localhost:8000/v1)")
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("Config.Endpoint %q: %v", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("Config.Endpoint %q: want an http:// or https:// URL with a host", endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("Config.Endpoint %q: must not have a query or fragment", endpoint)
	}
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/v1")
	u.RawPath = ""
	return strings.TrimRight(u.String(), "/"), nil
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// defaultClient is a client for n concurrent requests to one host. It has no overall
// timeout: each attempt is bounded by its context.
func defaultClient(n int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = n
	tr.MaxIdleConnsPerHost = n
	tr.IdleConnTimeout = 90 * time.Second
	tr.ResponseHeaderTimeout = 0
	return &http.Client{Transport: tr}
}
