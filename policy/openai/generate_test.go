package openai_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/policy/openai"
	"github.com/swerl/swerl/policy/openai/openaitest"
	"github.com/swerl/swerl/swe"
)

func firstMessage() string { return swe.FirstMessage(testTask) }

// Three turns: the second reply is cut by MaxTurnTokens, so the third turn's segment
// closes it with the end-of-turn token. The prompt of turn 3 must be exactly the
// earlier prompts and replies, token for token, then the new segment.
func TestTokenInThreeTurns(t *testing.T) {
	texts := []string{
		"Let me look.\n```command\nls\n```",
		"I will read the file now, it is long and this reply is cut by max_tokens " + strings.Repeat("x", 40),
		"```command\nsubmit\n```",
	}
	srv := openaitest.NewServer(t, openaitest.Script(openaitest.Chat(texts[0]), openaitest.Chat(texts[1]), openaitest.Chat(texts[2])))
	p, _ := newPolicy(t, srv, func(c *openai.Config) { c.MaxTurnTokens = 64 })
	ctx := context.Background()

	req := firstRequest()
	var replies []policy.Reply
	var seen []int32 // every prompt and reply so far
	obs := []string{"main.py\nstats.py", "(Current directory: /repo) bash-$"}
	for turn := range 3 {
		reply, err := p.Generate(ctx, req)
		if err != nil {
			t.Fatalf("turn %d: %v", turn, err)
		}
		calls := srv.Calls()
		if len(calls) != turn+1 {
			t.Fatalf("turn %d: %d completion calls", turn, len(calls))
		}
		want := append(slices.Clone(seen), reply.Prompt...)
		if got := calls[turn].Prompt; !slices.Equal(got, want) {
			t.Fatalf("turn %d: prompt sent\n%q\nwant concat(prompt_i + tokens_i) + segment\n%q", turn, openaitest.Decode(got), openaitest.Decode(want))
		}
		for i, lp := range reply.Logprobs {
			if lp != float32(openaitest.TokenLogprob(i)) {
				t.Fatalf("turn %d: logprob %d = %v, server sent %v", turn, i, lp, openaitest.TokenLogprob(i))
			}
		}
		if len(reply.Logprobs) != len(reply.Tokens) || reply.Overflow {
			t.Fatalf("turn %d: %d tokens, %d logprobs, overflow %v", turn, len(reply.Tokens), len(reply.Logprobs), reply.Overflow)
		}
		replies = append(replies, reply)
		seen = append(append(seen, reply.Prompt...), reply.Tokens...)
		if turn < 2 {
			req = next(req, reply, obs[turn])
		}
	}

	if got, want := openaitest.Decode(replies[0].Prompt), firstSegment(swe.SystemPrompt); got != want {
		t.Errorf("first segment = %q, want %q", got, want)
	}
	if replies[0].Text != texts[0] || replies[0].Tokens[len(replies[0].Tokens)-1] != openaitest.ImEnd {
		t.Errorf("reply 0 = %q %v, want the text and ids ending with <|im_end|>", replies[0].Text, replies[0].Tokens)
	}
	// Reply 0 ended with <|im_end|>: the segment starts with the separator.
	if got, want := openaitest.Decode(replies[1].Prompt), "\n<|im_start|>user\n"+obs[0]+"<|im_end|>\n<|im_start|>assistant\n"; got != want {
		t.Errorf("second segment = %q, want %q", got, want)
	}
	// Reply 1 was cut by max_tokens (64), not an overflow: the segment closes it.
	if len(replies[1].Tokens) != 64 || replies[1].Text != texts[1][:64] {
		t.Errorf("reply 1 = %d tokens %q, want the first 64", len(replies[1].Tokens), replies[1].Text)
	}
	if got, want := openaitest.Decode(replies[2].Prompt), "<|im_end|>\n<|im_start|>user\n"+obs[1]+"<|im_end|>\n<|im_start|>assistant\n"; got != want {
		t.Errorf("third segment = %q, want %q", got, want)
	}

	system, chat := openaitest.ParseChat(srv.Calls()[2].Text)
	wantChat := []openaitest.ChatTurn{
		{Role: "user", Content: firstMessage()},
		{Role: "assistant", Content: texts[0]},
		{Role: "user", Content: obs[0]},
		{Role: "assistant", Content: texts[1][:64]},
		{Role: "user", Content: obs[1]},
		{Role: "assistant", Open: true},
	}
	if system != swe.SystemPrompt || !slices.Equal(chat, wantChat) {
		t.Errorf("context reads as\nsystem %q\n%+v\nwant\n%+v", system, chat, wantChat)
	}

	st := p.Stats()
	if st.Generates != 3 || st.Completions != 3 || st.Overflows != 0 || st.PromptTokens == 0 || st.OutputTokens != int64(len(replies[0].Tokens)+len(replies[1].Tokens)+len(replies[2].Tokens)) {
		t.Errorf("stats = %+v", st)
	}
}

// The sampler goes out in full in every request (PAPER.md: a truncated sampler biases
// the importance ratio), with the token-level fields the client relies on.
func TestSamplingSentExplicitly(t *testing.T) {
	srv := openaitest.NewServer(t, nil)
	p, _ := newPolicy(t, srv, nil)
	req := firstRequest()
	for turn := range 3 {
		reply, err := p.Generate(context.Background(), req)
		if err != nil {
			t.Fatalf("turn %d: %v", turn, err)
		}
		req = next(req, reply, "ok")
	}
	want := map[string]string{
		"temperature": "1", "top_p": "1", "top_k": "-1", "min_p": "0", "n": "1", "logprobs": "0",
		"repetition_penalty": "1", "presence_penalty": "0", "frequency_penalty": "0",
		"return_tokens_as_token_ids": "true", "return_token_ids": "true", "skip_special_tokens": "false",
		"include_stop_str_in_output": "false", "stop_token_ids": "[257,258]", "model": `"` + openaitest.DefaultModel + `"`,
	}
	for _, c := range srv.Calls() {
		for k, v := range want {
			if got := string(c.Request.Fields[k]); got != v {
				t.Errorf("call %d: %s = %s, want %s", c.N, k, got, v)
			}
		}
		if _, ok := c.Request.Fields["seed"]; ok {
			t.Errorf("call %d: seed sent without Sampling.Seed", c.N)
		}
	}
}

// With Sampling.Seed, each request carries a seed derived from the request's identity:
// the samples of a group differ, a rerun repeats them.
func TestSeedPerRequest(t *testing.T) {
	srv := openaitest.NewServer(t, nil)
	seed := 7
	p, _ := newPolicy(t, srv, func(c *openai.Config) { c.Sampling.Seed = &seed })
	for _, sample := range []int{0, 1, 0} {
		req := firstRequest()
		req.Ref = messages.EpisodeRef{Iteration: 3, Sample: sample, TaskID: testTask.ID}
		if _, err := p.Generate(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	calls := srv.Calls()
	s := func(i int) int64 { return *calls[i].Request.Seed }
	if s(0) == s(1) || s(0) != s(2) {
		t.Fatalf("seeds %d %d %d: want the two samples to differ and a rerun to repeat", s(0), s(1), s(2))
	}
}

// Whatever the model writes is its output, not an error: the episode's parser judges
// the format.
func TestModelOutputIsNotAnError(t *testing.T) {
	for name, text := range map[string]string{
		"two blocks": "```command\nls\n```\n```command\npwd\n```",
		"no block":   "I think the bug is in mean().",
		"garbage":    "}{ ]]\x01 <|im_start|>",
		"empty":      "",
	} {
		t.Run(name, func(t *testing.T) {
			srv := openaitest.NewServer(t, openaitest.Script(openaitest.Chat(text)))
			p, _ := newPolicy(t, srv, nil)
			reply, err := p.Generate(context.Background(), firstRequest())
			if err != nil {
				t.Fatal(err)
			}
			want := text // skip_special_tokens is false: the text is the ids' text
			if reply.Text != want || len(reply.Tokens) != len(openaitest.Encode(text))+1 {
				t.Fatalf("reply = %q, %d tokens; want %q, %d tokens", reply.Text, len(reply.Tokens), want, len(openaitest.Encode(text))+1)
			}
		})
	}
}

// Without choices[0].token_ids the ids come from logprobs.tokens ("token_id:N").
func TestTokenIDsFromLogprobTokens(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.Script(openaitest.Response{Text: "hi", NoTokenIDs: true}))
	p, _ := newPolicy(t, srv, nil)
	reply, err := p.Generate(context.Background(), firstRequest())
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{'h', 'i', openaitest.ImEnd}; !slices.Equal(reply.Tokens, want) {
		t.Fatalf("tokens = %v, want %v", reply.Tokens, want)
	}
}

func TestMissingLogprobsIsFatal(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.Script(openaitest.Response{Text: "hi", NoLogprobs: true}))
	p, sl := newPolicy(t, srv, nil)
	_, err := p.Generate(context.Background(), firstRequest())
	wantFatal(t, err)
	for _, s := range []string{"log-probs", "vLLM", srv.URL + "/v1/completions"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if n := len(srv.Calls()); n != 1 || len(sl.all()) != 0 {
		t.Fatalf("%d calls, %d retries; want 1 call, no retry", n, len(sl.all()))
	}
}

// Answers the client cannot trust are fatal at once, naming what is wrong.
func TestBadAnswersAreFatal(t *testing.T) {
	body := func(choice map[string]any) string {
		b, _ := json.Marshal(map[string]any{"choices": []any{choice}})
		return string(b)
	}
	lp := func(tokens []string, lps ...float64) map[string]any {
		return map[string]any{"tokens": tokens, "token_logprobs": lps}
	}
	for name, tc := range map[string]struct{ body, want string }{
		"lengths differ": {body(map[string]any{"text": "ab", "finish_reason": "stop", "token_ids": []int{97, 98, 257},
			"logprobs": lp(nil, -0.1, -0.2)}), "3 token ids but 2 log-probs"},
		"unknown id format": {body(map[string]any{"text": "ab", "finish_reason": "stop",
			"logprobs": lp([]string{"a", "b"}, -0.1, -0.2)}), "unknown token id format"},
		"null log-prob": {`{"choices":[{"text":"a","finish_reason":"stop","token_ids":[97],"logprobs":{"token_logprobs":[null]}}]}`, "null"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := openaitest.NewServer(t, openaitest.Script(openaitest.Response{Body: tc.body}))
			p, _ := newPolicy(t, srv, nil)
			_, err := p.Generate(context.Background(), firstRequest())
			wantFatal(t, err)
			if !strings.Contains(err.Error(), tc.want) || len(srv.Calls()) != 1 {
				t.Fatalf("error %q after %d calls; want it to say %q after 1", err, len(srv.Calls()), tc.want)
			}
		})
	}
}

// A transcript from a policy that does not report prompt tokens cannot be continued
// token-in: re-tokenizing its text would change what the model saw.
func TestPastTurnWithoutTokensIsFatal(t *testing.T) {
	srv := openaitest.NewServer(t, nil)
	p, _ := newPolicy(t, srv, nil)
	req := firstRequest()
	req.Transcript = req.Transcript.Append(messages.NewTurn(messages.Turn{Assistant: "ls", Observation: "x"}, []int32{1, 2}, []float32{-1, -1}))
	_, err := p.Generate(context.Background(), req)
	wantFatal(t, err)
	if !strings.Contains(err.Error(), "turn 0") || len(srv.Calls()) != 0 {
		t.Fatalf("error %q after %d calls", err, len(srv.Calls()))
	}
}

func TestEndpointForms(t *testing.T) {
	srv := openaitest.NewServer(t, nil)
	for _, ep := range []string{srv.URL, srv.URL + "/", srv.URL + "/v1", srv.URL + "/v1/"} {
		p, _ := newPolicy(t, srv, func(c *openai.Config) { c.Endpoint = ep })
		if _, err := p.Generate(context.Background(), firstRequest()); err != nil {
			t.Errorf("Endpoint %q: %v", ep, err)
		}
	}
}

func TestAPIKeyAndEndOfTurnLearntOnce(t *testing.T) {
	srv := openaitest.NewServer(t, nil)
	p, _ := newPolicy(t, srv, func(c *openai.Config) { c.APIKey = "sk-test" })
	req := firstRequest()
	for range 3 {
		reply, err := p.Generate(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		req = next(req, reply, "ok")
	}
	if got := srv.Calls()[0].Header.Get("Authorization"); got != "Bearer sk-test" {
		t.Errorf("Authorization = %q", got)
	}
	// Once: one /tokenize each for the end-of-turn id, the stop token and the special
	// tokens (all in one); then one per segment.
	if n := srv.TokenizeCalls(); n != 6 {
		t.Errorf("%d /tokenize calls, want 6", n)
	}
}
