// Package openai is a token-in, token-out policy.Policy for OpenAI-compatible servers
// (vLLM; SGLang where it speaks the same fields). It records the exact token ids the
// model saw and sampled, with their sampling log-probs, so that DAPO's importance
// ratio is computed on what was really sampled.
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
// added, with Config.Model). The end-of-turn token id is learnt once the same way; it
// must be exactly one token. Completions go to POST /v1/completions with the sampler
// always sent in full (temperature, top_p, top_k, min_p; by default 1, 1, -1, 0),
// logprobs=0, token ids returned (return_token_ids, return_tokens_as_token_ids) and
// the end-of-turn id as the stop token. Reply.Tokens are the produced ids (with the
// stop token when the model ended its turn), Reply.Logprobs their log-probs, one
// each. The ids are read from choices[0].token_ids, or, from servers without
// return_token_ids, from logprobs.tokens ("token_id:N").
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
