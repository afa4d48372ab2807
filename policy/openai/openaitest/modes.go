package openaitest

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
)

// Kind is the server a stub mirrors.
type Kind string

const (
	// VLLM mirrors vLLM's OpenAI-compatible server (vllm/entrypoints/openai/):
	// GET /version; /v1/completions with token-id prompts, return_tokens_as_token_ids
	// ("token_id:N" in logprobs.tokens) and return_token_ids; sampling fields left out
	// of a request take the model's generation_config.json defaults
	// (vllm/config/model.py, get_diff_sampling_param; applied in
	// protocol.py CompletionRequest.to_sampling_params); the generation config's EOS
	// ids stop a reply besides the request's stop ids (sampling_params.py,
	// update_from_generation_config), with stop_reason the id for a requested stop id
	// and null for an EOS; log-probs are raw (before temperature and penalties) unless
	// the server runs with --logprobs-mode processed_logprobs (vllm/v1/sample/
	// sampler.py); a request with prompt + max_tokens > max_model_len is a 400
	// (serving_engine.py, _validate_input); skip_special_tokens defaults to true.
	VLLM Kind = "vllm"
	// SGLang mirrors SGLang's server (python/sglang/srt/entrypoints/http_server.py):
	// no /version, but GET /server_info (and /get_server_info) with its version and
	// max_req_input_len; GET /model_info (and /get_model_info) with weight_version;
	// native POST /generate (input_ids, sampling_params, return_logprob) answering
	// text, output_ids with the stop id (managers/schedule_batch.py,
	// output_ids_through_stop) and meta_info (finish_reason, output_token_logprobs
	// as [logprob, id, text], weight_version); sampling fields left out take
	// --preferred-sampling-params (Options.Defaults; managers/tokenizer_manager.py,
	// _create_tokenized_object); log-probs after penalties and temperature, before
	// top-k/top-p/min-p (layers/sampler.py); the length checked before the stop ids,
	// so a stop id as the last allowed token finishes "length"; /v1/models listing
	// LoRA adapters with their parent; a /v1/completions with no
	// return_tokens_as_token_ids and log-probs by token text
	// (entrypoints/openai/utils.py); a request refused with 400 when prompt >=
	// context_len, prompt + max_new_tokens > context_len (tokenizer_manager.py,
	// _validate_one_request) or prompt >= context_len - 6 (managers/utils.py,
	// validate_input_length), and max_new_tokens cut silently to what the context
	// holds (managers/scheduler.py, init_req_max_new_tokens).
	SGLang Kind = "sglang"
)

// Versions the stub reports by default.
const (
	VLLMVersion   = "0.11.0"
	SGLangVersion = "0.5.4"
)

// Options shape a stub. The zero value is a vLLM server with no generation-config
// sampling defaults and raw log-probs.
type Options struct {
	Kind    Kind   // VLLM (default) or SGLang
	Version string // the version reported; default VLLMVersion or SGLangVersion
	// Defaults are the model's sampling defaults (generation_config.json), applied to
	// the sampling fields a request leaves out; keys are the request fields
	// ("temperature", "top_p", "top_k", "min_p", "repetition_penalty",
	// "presence_penalty", "frequency_penalty"). QwenDefaults is Qwen2.5-Instruct's.
	Defaults map[string]float64
	// EOS are the model's end-of-sequence ids (generation_config.json eos_token_id)
	// besides ImEnd; a reply that ends with one stops there.
	EOS []int32
	// ProcessedLogprobs makes a vLLM stub report the log-probs of the distribution
	// sampled from (--logprobs-mode processed_logprobs); false reports the raw ones.
	// SGLang reports them after penalties and temperature, before the filters.
	ProcessedLogprobs bool
	// MaxModelLen is the model's context length; 0 means MaxModelLen.
	MaxModelLen int
	// WeightVersion is the weight version an SGLang stub reports; "" means "default".
	WeightVersion string
}

// QwenDefaults are the sampling defaults of Qwen2.5-Instruct's generation_config.json.
var QwenDefaults = map[string]float64{"repetition_penalty": 1.05, "temperature": 0.7, "top_p": 0.8, "top_k": 20}

// QwenEOS are the EOS ids of Qwen2.5-Instruct's generation_config.json besides
// <|im_end|>: <|endoftext|>.
var QwenEOS = []int32{EndOfText}

// neutral is the sampler that leaves the model's distribution as it is.
var neutral = map[string]float64{
	"temperature": 1, "top_p": 1, "top_k": -1, "min_p": 0,
	"repetition_penalty": 1, "presence_penalty": 0, "frequency_penalty": 0,
}

// sampler is the sampler a request is served with: the neutral one, then the model's
// defaults for fields the request left out, then the request's fields.
func sampler(defaults map[string]float64, fields map[string]json.RawMessage) map[string]float64 {
	s := maps.Clone(neutral)
	for k := range neutral {
		raw, ok := fields[k]
		var v float64
		if ok && string(raw) != "null" && json.Unmarshal(raw, &v) == nil {
			s[k] = v
		} else if d, ok := defaults[k]; ok {
			s[k] = d
		}
	}
	return s
}

// Neutral reports whether a sampler leaves the distribution as it is.
func Neutral(s map[string]float64) bool {
	for k, v := range neutral {
		if k == "top_k" && s[k] == 0 {
			continue
		}
		if s[k] != v {
			return false
		}
	}
	return true
}

// SamplingLogprob is the log-prob of the i-th produced token id under sampler s given
// the context before it: the raw TokenLogprob(i) put through the sampler's processing
// (temperature, the penalties for ids already in the context, the filters'
// renormalisation). Under the neutral sampler it is TokenLogprob(i).
func SamplingLogprob(i int, id int32, context []int32, s map[string]float64) float64 {
	lp := TokenLogprob(i)
	t := max(s["temperature"], 0.01) // vLLM samples below 0.01 as 0.01
	lp /= t
	if n := slices.Index(context, id); n >= 0 {
		count := 0
		for _, c := range context {
			if c == id {
				count++
			}
		}
		lp -= math.Log(s["repetition_penalty"]) + s["presence_penalty"] + s["frequency_penalty"]*float64(count)
	}
	return lp + filterTerm(s)
}

// filterTerm is what the filters (top-p, top-k, min-p) add to a log-prob by
// renormalising over the tokens they keep.
func filterTerm(s map[string]float64) float64 {
	var d float64
	if p := s["top_p"]; p < 1 && p > 0 {
		d -= math.Log(p)
	}
	if k := s["top_k"]; k > 0 {
		d += 0.001
	}
	return d + 0.1*s["min_p"]
}
