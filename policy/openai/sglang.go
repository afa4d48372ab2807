package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/swerl/swerl/policy"
)

// SGLang's native API (python/sglang/srt/entrypoints/http_server.py, POST /generate;
// its request is GenerateReqInput in managers/io_struct.py, its sampler SamplingParams
// in sampling/sampling_params.py). The answer's output_ids hold the produced ids with
// the matched stop id (Req.output_ids_through_stop, managers/schedule_batch.py), and
// meta_info.output_token_logprobs one [logprob, id, text] per output id; only the text
// drops the stop token. Its /v1/completions is not exact for token-in, token-out use:
// it has no return_tokens_as_token_ids and reports log-probs by token text
// (entrypoints/openai/utils.py, to_openai_style_logprobs), and return_token_ids came
// only in July 2026. Every sampling field is sent: /generate fills absent ones from
// --preferred-sampling-params (managers/tokenizer_manager.py,
// _create_tokenized_object). The seed is sampling_seed, honoured only with
// --enable-deterministic-inference.

type sglangSampling struct {
	MaxNewTokens int `json:"max_new_tokens"`
	samplerFields
	StopTokenIDs      []int32 `json:"stop_token_ids"`
	SkipSpecialTokens bool    `json:"skip_special_tokens"`
	SamplingSeed      *int    `json:"sampling_seed,omitempty"`
}

type sglangRequest struct {
	InputIDs        []int32        `json:"input_ids"`
	SamplingParams  sglangSampling `json:"sampling_params"`
	ReturnLogprob   bool           `json:"return_logprob"`
	LogprobStartLen int            `json:"logprob_start_len"`
	TopLogprobsNum  int            `json:"top_logprobs_num"`
	Stream          bool           `json:"stream"`
	LoraPath        string         `json:"lora_path,omitempty"`
}

type sglangResponse struct {
	Text      string  `json:"text"`
	OutputIDs []int32 `json:"output_ids"`
	MetaInfo  struct {
		FinishReason *struct {
			Type    string `json:"type"`
			Matched any    `json:"matched"`
		} `json:"finish_reason"`
		OutputTokenLogprobs [][]any `json:"output_token_logprobs"`
		WeightVersion       string  `json:"weight_version"`
	} `json:"meta_info"`

	// Filled by check.
	finish   string
	tokens   []int32
	logprobs []float32
}

// check validates a /generate answer: ids and log-probs one to one, each log-prob's
// id equal to the output id.
func (r *sglangResponse) check() *attemptError {
	fr := r.MetaInfo.FinishReason
	if fr == nil {
		return retry(errors.New("meta_info.finish_reason is null (the request did not finish)"))
	}
	switch fr.Type {
	case "stop", "length":
	default:
		return retry(fmt.Errorf("generation finished with %q (want stop or length)", fr.Type))
	}
	if r.OutputIDs == nil {
		return fatal(errors.New(`answer has no "output_ids"; the server must be SGLang with output ids in /generate answers`))
	}
	lps := r.MetaInfo.OutputTokenLogprobs
	if len(lps) != len(r.OutputIDs) {
		return fatal(fmt.Errorf("the answer has %d output ids but %d output_token_logprobs; they must match one to one (return_logprob is sent)", len(r.OutputIDs), len(lps)))
	}
	if len(r.OutputIDs) == 0 {
		return fatal(errors.New("the generation produced no tokens"))
	}
	out := make([]float32, len(lps))
	for i, e := range lps {
		if len(e) < 2 {
			return fatal(fmt.Errorf("output_token_logprobs[%d] = %v: want [logprob, token_id, text]", i, e))
		}
		lp, ok1 := e[0].(float64)
		id, ok2 := e[1].(float64)
		if !ok1 || !ok2 {
			return fatal(fmt.Errorf("output_token_logprobs[%d] = %v: want [logprob, token_id, text] with numbers", i, e))
		}
		if int32(id) != r.OutputIDs[i] {
			return fatal(fmt.Errorf("output_token_logprobs[%d] is for token %v, but output id %d is %d", i, id, i, r.OutputIDs[i]))
		}
		out[i] = float32(lp)
	}
	r.finish, r.tokens, r.logprobs = fr.Type, r.OutputIDs, out
	return nil
}

// generateSGLang samples through SGLang's POST /generate.
func (p *Policy) generateSGLang(ctx context.Context, b *retryBudget, s sample) (sampled, error) {
	req := sglangRequest{
		InputIDs: s.prompt,
		SamplingParams: sglangSampling{
			MaxNewTokens:      s.maxTokens,
			samplerFields:     p.cfg.Sampling.fields(),
			StopTokenIDs:      s.stops,
			SkipSpecialTokens: false,
			SamplingSeed:      s.seed,
		},
		ReturnLogprob:   true,
		LogprobStartLen: -1,
	}
	if s.model != p.cfg.Model {
		req.LoraPath = s.model
	}
	var resp sglangResponse
	if err := p.call(ctx, b, http.MethodPost, "/generate", s.model, req, &resp); err != nil {
		return sampled{}, err
	}
	if want, ok := p.weightVersion(s.version); ok && resp.MetaInfo.WeightVersion != want {
		return sampled{}, &policy.Error{Retryable: true, Err: fmt.Errorf(
			"openai: %s/generate answered with weights %q, but policy version %d is %q: the sample is off-policy (is the trainer updating the server's weights while episodes run?)",
			p.base, resp.MetaInfo.WeightVersion, s.version, want)}
	}
	return sampled{text: resp.Text, finish: resp.finish, tokens: resp.tokens, logprobs: resp.logprobs}, nil
}
