package openai

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The JSON of the endpoints used, as vLLM's OpenAI-compatible server speaks it.

type tokenizeRequest struct {
	Model            string `json:"model"`
	Prompt           string `json:"prompt"`
	AddSpecialTokens bool   `json:"add_special_tokens"`
}

type tokenizeResponse struct {
	Tokens []int32 `json:"tokens"`
}

func (r *tokenizeResponse) check() *attemptError {
	if r.Tokens == nil {
		return fatal(errors.New(`answer has no "tokens" list (the server must serve vLLM's /tokenize)`))
	}
	return nil
}

// samplerFields are the sampling fields both servers take under the same names; they
// are always sent (no omitempty), so no server-side default applies.
type samplerFields struct {
	Temperature       float64 `json:"temperature"`
	TopP              float64 `json:"top_p"`
	TopK              int     `json:"top_k"`
	MinP              float64 `json:"min_p"`
	RepetitionPenalty float64 `json:"repetition_penalty"`
	PresencePenalty   float64 `json:"presence_penalty"`
	FrequencyPenalty  float64 `json:"frequency_penalty"`
}

func (s Sampling) fields() samplerFields {
	return samplerFields{Temperature: s.Temperature, TopP: s.TopP, TopK: s.TopK, MinP: s.MinP,
		RepetitionPenalty: s.RepetitionPenalty, PresencePenalty: s.PresencePenalty, FrequencyPenalty: s.FrequencyPenalty}
}

// completionRequest has no omitempty on the sampling fields: they are always sent.
type completionRequest struct {
	Model     string  `json:"model"`
	Prompt    []int32 `json:"prompt"`
	MaxTokens int     `json:"max_tokens"`
	samplerFields
	N                      int     `json:"n"`
	Stream                 bool    `json:"stream"`
	Logprobs               int     `json:"logprobs"`
	ReturnTokensAsTokenIDs bool    `json:"return_tokens_as_token_ids"`
	ReturnTokenIDs         bool    `json:"return_token_ids"`
	SkipSpecialTokens      bool    `json:"skip_special_tokens"`
	StopTokenIDs           []int32 `json:"stop_token_ids"`
	IncludeStopStrInOutput bool    `json:"include_stop_str_in_output"`
	Seed                   *int    `json:"seed,omitempty"`
}

type completionResponse struct {
	Choices []struct {
		Text         string  `json:"text"`
		FinishReason string  `json:"finish_reason"`
		TokenIDs     []int32 `json:"token_ids"`
		Logprobs     *struct {
			TokenLogprobs []*float64 `json:"token_logprobs"`
			Tokens        []string   `json:"tokens"`
		} `json:"logprobs"`
	} `json:"choices"`

	// Filled by check.
	text     string
	finish   string
	tokens   []int32
	logprobs []float32
}

// missingLogprobs says what to fix when a server leaves the log-probs out.
const missingLogprobs = "the completion has no log-probs for its tokens; the server must return " +
	"them (vLLM: logprobs=0 is sent, so --max-logprobs must not be negative and the request must not be " +
	"rejected; SGLang: use a server that honours logprobs on /v1/completions)"

// check validates the answer and extracts the produced ids and their log-probs. A
// finish other than stop or length (vLLM's "abort") is retryable; an answer without
// ids or log-probs is not.
func (r *completionResponse) check() *attemptError {
	if len(r.Choices) != 1 {
		return retry(fmt.Errorf("answer has %d choices, want 1", len(r.Choices)))
	}
	c := r.Choices[0]
	switch c.FinishReason {
	case "stop", "length":
	default:
		return retry(fmt.Errorf("completion finished with %q (want stop or length)", c.FinishReason))
	}
	if c.Logprobs == nil || len(c.Logprobs.TokenLogprobs) == 0 {
		return fatal(errors.New(missingLogprobs))
	}
	ids := c.TokenIDs
	if ids == nil {
		ids = make([]int32, len(c.Logprobs.Tokens))
		for i, s := range c.Logprobs.Tokens {
			id, err := parseTokenID(s)
			if err != nil {
				return fatal(fmt.Errorf("token %d: %v; the server must return token ids (vLLM: return_token_ids, or return_tokens_as_token_ids)", i, err))
			}
			ids[i] = id
		}
	}
	if len(ids) == 0 {
		return fatal(errors.New("the completion produced no tokens"))
	}
	if len(ids) != len(c.Logprobs.TokenLogprobs) {
		return fatal(fmt.Errorf("the completion has %d token ids but %d log-probs; they must match one to one", len(ids), len(c.Logprobs.TokenLogprobs)))
	}
	lps := make([]float32, len(ids))
	for i, lp := range c.Logprobs.TokenLogprobs {
		if lp == nil {
			return fatal(fmt.Errorf("log-prob %d is null; %s", i, missingLogprobs))
		}
		lps[i] = float32(*lp)
	}
	r.text, r.finish, r.tokens, r.logprobs = c.Text, c.FinishReason, ids, lps
	return nil
}

// parseTokenID reads vLLM's "token_id:123" (return_tokens_as_token_ids).
func parseTokenID(s string) (int32, error) {
	rest, ok := strings.CutPrefix(s, "token_id:")
	if !ok {
		return 0, fmt.Errorf("unknown token id format %q (want \"token_id:N\")", s)
	}
	id, err := strconv.ParseInt(rest, 10, 32)
	if err != nil || id < 0 {
		return 0, fmt.Errorf("unknown token id format %q (want \"token_id:N\")", s)
	}
	return int32(id), nil
}

type modelsResponse struct {
	Data []struct {
		ID          string `json:"id"`
		MaxModelLen int    `json:"max_model_len"` // null (0) for adapters
	} `json:"data"`
}

func (r *modelsResponse) check() *attemptError {
	if r.Data == nil {
		return fatal(errors.New(`answer has no "data" list of models`))
	}
	return nil
}

// checker is an answer that validates itself once decoded: a non-nil result fails the
// attempt.
type checker interface {
	check() *attemptError
}
