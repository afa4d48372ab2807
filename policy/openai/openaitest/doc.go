// Package openaitest is a stub of the vLLM and SGLang servers for tests of
// policy/openai, on 127.0.0.1 through httptest, or in memory (NewInMemory) for tests
// inside a testing/synctest bubble. Its two modes (Kind) reproduce what each server's
// source shows: sampling defaults from a generation config for fields a request leaves
// out, raw or processed log-probs, SGLang's /generate and its text-token log-probs on
// /v1/completions, each server's boundary for a request longer than the model's
// context, special-token text tokenized as control tokens, extra EOS ids, versions
// and weight versions. The stub samples with the sampler it reports in Call.Sampler
// and records the log-probs it sampled with (Call.Sampled), so a test catches a
// client that records other ones.
//
// Its tokenizer works on bytes (ids 0..255) plus Qwen2.5's 22 special tokens, so a test
// can read any prompt back with Decode and split it into messages with ParseChat. A
// Handler decides each completion; Response has fault knobs (status, Retry-After,
// malformed body, delay, cut connection, missing log-probs, the end id) and
// Server.Close makes the server disappear mid-test. Handlers run concurrently; Server
// methods are safe for concurrent use.
package openaitest
