// Package openai is a token-in, token-out policy.Policy for vLLM and SGLang servers. It
// records the exact token ids the model saw and sampled, with their sampling
// log-probs, so that DAPO's importance ratio is computed on what was really sampled.
//
// # Servers
//
// Before the first completion (at Check, or the first Generate) the client learns its
// server once: the kind (GET /version answers on vLLM, GET /get_server_info on SGLang;
// or Config.Server), the version (older than MinVLLMVersion or MinSGLangVersion is a
// fatal error), the model's max_model_len (GET /v1/models), to which ContextBudget is
// clamped (vLLM refuses prompt + max_tokens > max_model_len, SGLang >=; see
// Config.FitContext), and the ids of the end-of-turn, stop and special tokens. vLLM is
// sampled through POST /v1/completions, SGLang through its native POST /generate (its
// /v1/completions reports log-probs by token text).
//
// # Context
//
// Past turns are never re-tokenized. Generate sends, as a list of token ids, the
// concatenation over req.Transcript of each turn's prompt tokens then its assistant
// tokens (a turn without both is a fatal error: it did not come from a token-in
// policy), followed by a new segment, which comes back as Reply.Prompt:
//   - first turn: Template.System(SystemPrompt) + Template.User(swe.FirstMessage) +
//     Template.AssistantStart;
//   - later turns: Template.EndOfTurn (only when the last reply does not already end
//     with the end-of-turn token, e.g. cut by max_tokens) + Template.Separator +
//     Template.User(last turn's Observation) + Template.AssistantStart.
//
// The segment's text is tokenized by the server (POST /tokenize, no special tokens
// added, with Config.Model), so that no special token comes from the system prompt,
// the issue or an observation: where they hold a special token's text
// (Config.SpecialTokens), the text is cut inside it and tokenized piece by piece, and
// the result must hold the template's special tokens only. The end-of-turn string must
// be exactly one token.
//
// Every request sends the whole sampler (temperature, top_p, top_k, min_p and the
// repetition, presence and frequency penalties; by default the neutral 1, 1, -1, 0, 1,
// 0, 0), because both servers fill a left-out field from the model's
// generation_config.json while vLLM reports raw log-probs; any other sampler needs
// Config.LogprobsProcessed. It asks for log-probs and ids (vLLM: logprobs=0,
// return_token_ids, return_tokens_as_token_ids; SGLang: return_logprob,
// no_stop_trim), skip_special_tokens false (the text is its ids' text), and the stop
// ids: the end of turn and Config.StopTokens. Reply.Tokens are the produced ids (with
// the stop id when the model ended its turn), Reply.Logprobs their log-probs, one
// each. A reply that ended with any stop id (vLLM adds the generation config's EOS
// ids) ended its turn: the next segment adds no end-of-turn token.
//
// With Sampling.Seed set, each request carries a seed derived from it and the
// request's identity (episode, attempt, turn): one fixed seed for all would make the
// samples of a group identical.
//
// # Budget
//
// max_tokens is min(MaxTurnTokens, ContextBudget - context length). If the context
// with the new segment already fills ContextBudget, Generate makes no completion call
// and returns Reply{Prompt: segment, Overflow: true}. A reply cut by max_tokens that
// fills the budget comes back with its tokens and Overflow set. Nothing is truncated
// silently.
//
// # Errors
//
// Every request names its URL in errors; non-2xx answers are a *StatusError (status,
// body excerpt, what to check). Within one Generate (or Load, Check) the client
// retries, at most MaxRetries times in all, with full-jitter exponential backoff:
// 408, 429 and 5xx (after Retry-After, capped by BackoffMax), broken connections,
// attempts past RequestTimeout, malformed JSON and aborted completions. When the
// retries run out, or the next wait would pass ctx's deadline, the error is a
// *policy.Error with Retryable set. Other 4xx answers, missing log-probs, ids and
// log-probs of different lengths, unknown id formats and a multi-token end-of-turn
// string are a *policy.Error that is not retryable, at once. When ctx ends, the
// error wraps ctx.Err() (policy.IsRetryable counts a deadline as retryable).
//
// # Concurrency
//
// Generate, Load, Check and Stats may be called concurrently. At most MaxConcurrent
// HTTP requests are in flight (waiting for a slot honours ctx). The returned slices
// belong to the caller.
package openai
