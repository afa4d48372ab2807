// Package openaitest is a stub OpenAI-compatible server for tests of policy/openai:
// the subset of vLLM's API that the client uses (/tokenize, /detokenize, /v1/models,
// /v1/completions with token ids and log-probs), on 127.0.0.1 through httptest, or
// in memory (NewInMemory) for tests inside a testing/synctest bubble.
//
// Its tokenizer works on bytes (ids 0..255) plus three ChatML specials, so a test can
// read any prompt back with Decode and split it into messages with ParseChat. A
// Handler decides each completion; Response has fault knobs (status, Retry-After,
// malformed body, delay, cut connection, missing log-probs) and Server.Close makes the
// server disappear mid-test. Handlers run concurrently; Server methods are safe for
// concurrent use.
package openaitest
