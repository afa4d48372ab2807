package openai_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/policy/openai"
	"github.com/swerl/swerl/policy/openai/openaitest"
)

// The two faithful stub modes: vLLM with Qwen2.5-Instruct's generation config
// (repetition_penalty 1.05 and friends as defaults, <|endoftext|> as a second EOS) and
// raw log-probs, and SGLang.
var modes = map[string]openaitest.Options{
	"vllm":   {Kind: openaitest.VLLM, Defaults: openaitest.QwenDefaults, EOS: openaitest.QwenEOS},
	"sglang": {Kind: openaitest.SGLang, Defaults: openaitest.QwenDefaults, EOS: openaitest.QwenEOS},
}

// run plays turns of an episode against srv, each observation obs, and returns the
// replies.
func run(t *testing.T, p *openai.Policy, turns int, obs string) []policy.Reply {
	t.Helper()
	req := firstRequest()
	var out []policy.Reply
	for turn := range turns {
		reply, err := p.Generate(context.Background(), req)
		if err != nil {
			t.Fatalf("turn %d: %v", turn, err)
		}
		out = append(out, reply)
		if reply.Overflow {
			break
		}
		req = next(req, reply, obs)
	}
	return out
}

// checkSampledLogprobs fails t unless every reply's log-probs are the ones the stub
// sampled its ids with.
func checkSampledLogprobs(t *testing.T, srv *openaitest.Server, replies []policy.Reply) {
	t.Helper()
	calls := srv.Calls()
	if len(calls) != len(replies) {
		t.Fatalf("%d completion calls for %d replies", len(calls), len(replies))
	}
	for i, r := range replies {
		c := calls[i]
		if !slices.Equal(r.Tokens, c.Output) {
			t.Fatalf("reply %d: tokens %v, the stub produced %v", i, r.Tokens, c.Output)
		}
		for j, lp := range r.Logprobs {
			if lp != float32(c.Sampled[j]) {
				t.Fatalf("reply %d token %d: recorded log-prob %v, the stub sampled it with %v (sampler %v)", i, j, lp, c.Sampled[j], c.Sampler)
			}
		}
	}
}

// Point 1: left-out sampling fields take the model's defaults (vLLM:
// get_diff_sampling_param), which the raw log-probs do not show. Every field is sent
// neutral, so the recorded log-probs are the sampling ones.
func TestLogprobsAreTheSamplingOnes(t *testing.T) {
	for name, o := range modes {
		t.Run(name, func(t *testing.T) {
			srv := openaitest.NewServerWith(t, openaitest.Script(openaitest.Chat("```command\nls ls ls\n```")), o)
			p, _ := newPolicy(t, srv, nil)
			replies := run(t, p, 3, "ls ls")
			checkSampledLogprobs(t, srv, replies)
			for _, c := range srv.Calls() {
				if !openaitest.Neutral(c.Sampler) {
					t.Fatalf("call %d sampled with %v, want the neutral sampler", c.N, c.Sampler)
				}
			}
		})
	}
}

// A sampler other than the neutral one is refused unless the server is said to return
// processed log-probs; then the recorded log-probs are the processed ones.
func TestNonNeutralSamplerNeedsProcessedLogprobs(t *testing.T) {
	for _, s := range []openai.Sampling{
		{Temperature: 0.7}, {TopP: 0.8}, {TopK: 20}, {MinP: 0.05},
		{RepetitionPenalty: 1.05}, {PresencePenalty: 0.5}, {FrequencyPenalty: 0.1},
	} {
		_, err := openai.New(openai.Config{Endpoint: "http://127.0.0.1:1", Model: "m", Sampling: s})
		if err == nil || !strings.Contains(err.Error(), "processed_logprobs") {
			t.Errorf("Sampling %+v without LogprobsProcessed: err = %v, want a config error naming --logprobs-mode processed_logprobs", s, err)
		}
	}
	for _, temp := range []float64{-1, 0.001, 1000} {
		_, err := openai.New(openai.Config{Endpoint: "http://127.0.0.1:1", Model: "m", LogprobsProcessed: true,
			Sampling: openai.Sampling{Temperature: temp}})
		if err == nil || !strings.Contains(err.Error(), "Temperature") {
			t.Errorf("Temperature %v: err = %v, want a config error", temp, err)
		}
	}

	// vLLM with --logprobs-mode processed_logprobs, and SGLang (whose log-probs are
	// after penalties and temperature): the recorded log-probs are the sampling ones.
	vllm := modes["vllm"]
	vllm.ProcessedLogprobs = true
	for name, o := range map[string]openaitest.Options{"vllm processed": vllm, "sglang": modes["sglang"]} {
		t.Run(name, func(t *testing.T) {
			srv := openaitest.NewServerWith(t, openaitest.Script(openaitest.Chat("```command\nls ls ls\n```")), o)
			p, _ := newPolicy(t, srv, func(c *openai.Config) {
				c.LogprobsProcessed = true
				c.Sampling = openai.Sampling{Temperature: 0.7, RepetitionPenalty: 1.05}
			})
			replies := run(t, p, 2, "ls")
			checkSampledLogprobs(t, srv, replies)
			if c := srv.Calls()[0]; c.Sampler["temperature"] != 0.7 || c.Sampler["repetition_penalty"] != 1.05 || c.Sampler["top_p"] != 1 {
				t.Fatalf("sampler = %v, want temperature 0.7, repetition penalty 1.05 and no filter", c.Sampler)
			}
		})
	}

	// SGLang's log-probs are before the filters: a truncated sampler is refused.
	srv := openaitest.NewServerWith(t, nil, modes["sglang"])
	p, _ := newPolicy(t, srv, func(c *openai.Config) {
		c.LogprobsProcessed = true
		c.Sampling = openai.Sampling{TopP: 0.9}
	})
	err := p.Check(context.Background())
	wantFatal(t, err)
	if !strings.Contains(err.Error(), "before top-k, top-p and min-p") {
		t.Fatalf("Check with top_p 0.9 on SGLang: %v", err)
	}
}

// Point 2: the server's kind is detected, and SGLang is spoken through its native
// /generate (its /v1/completions reports log-probs by token text).
func TestServerDetected(t *testing.T) {
	for name, o := range modes {
		t.Run(name, func(t *testing.T) {
			srv := openaitest.NewServerWith(t, nil, o)
			p, _ := newPolicy(t, srv, nil)
			if err := p.Check(context.Background()); err != nil {
				t.Fatal(err)
			}
			info, _ := p.Info()
			if string(info.Server) != name || info.Version == "" || info.EndOfTurn != openaitest.ImEnd {
				t.Fatalf("Info = %+v", info)
			}
			run(t, p, 2, "ok")
			want := map[string]string{"vllm": "/v1/completions", "sglang": "/generate"}[name]
			for _, c := range srv.Calls() {
				if c.Path != want {
					t.Fatalf("call %d went to %s, want %s", c.N, c.Path, want)
				}
			}
		})
	}
}

func TestUnsupportedServer(t *testing.T) {
	t.Run("old vllm", func(t *testing.T) {
		srv := openaitest.NewServerWith(t, nil, openaitest.Options{Kind: openaitest.VLLM, Version: "0.8.5"})
		p, _ := newPolicy(t, srv, nil)
		err := p.Check(context.Background())
		wantFatal(t, err)
		if !strings.Contains(err.Error(), "0.8.5") || !strings.Contains(err.Error(), openai.MinVLLMVersion) {
			t.Fatalf("Check: %v; want the version found and the one needed", err)
		}
	})
	t.Run("old sglang", func(t *testing.T) {
		srv := openaitest.NewServerWith(t, nil, openaitest.Options{Kind: openaitest.SGLang, Version: "0.4.6.post1"})
		p, _ := newPolicy(t, srv, nil)
		err := p.Check(context.Background())
		wantFatal(t, err)
		if !strings.Contains(err.Error(), "0.4.6.post1") || !strings.Contains(err.Error(), openai.MinSGLangVersion) {
			t.Fatalf("Check: %v", err)
		}
	})
	t.Run("kind set but other", func(t *testing.T) {
		srv := openaitest.NewServerWith(t, nil, modes["vllm"])
		p, _ := newPolicy(t, srv, func(c *openai.Config) { c.Server = openai.ServerSGLang })
		err := p.Check(context.Background())
		wantFatal(t, err)
		if !strings.Contains(err.Error(), "not a sglang server") {
			t.Fatalf("Check: %v", err)
		}
		if len(srv.Calls()) != 0 {
			t.Fatal("a completion was requested")
		}
	})
}

// Point 3: the budget is clamped to the server's context length, with each server's
// boundaries (vLLM refuses prompt + max_tokens > max_model_len; SGLang a prompt of
// context_len - 6 or more, and cuts max_new_tokens silently), so an episode that
// grows ends with Overflow, and no request is refused or cut for length.
func TestBudgetClampedToServer(t *testing.T) {
	for name, o := range modes {
		t.Run(name, func(t *testing.T) {
			o.MaxModelLen = 4000
			srv := openaitest.NewServerWith(t, openaitest.Script(openaitest.Chat(strings.Repeat("y", 300))), o)
			p, _ := newPolicy(t, srv, func(c *openai.Config) { c.MaxTurnTokens = 1000 })
			if err := p.Check(context.Background()); err != nil {
				t.Fatal(err)
			}
			info, _ := p.Info()
			// vLLM takes prompt + max_tokens <= max_model_len; SGLang a prompt below
			// max_req_input_len = context_len - 6, which also keeps max_new_tokens
			// clear of its silent cut.
			want := map[string]int{"vllm": 4000, "sglang": 3994}[name]
			if info.MaxModelLen != 4000 || info.ContextBudget != want {
				t.Fatalf("Info = %+v, want max_model_len 4000 and budget %d", info, want)
			}
			replies := run(t, p, 100, strings.Repeat("z", 200))
			if last := replies[len(replies)-1]; !last.Overflow {
				t.Fatalf("%d turns without overflow", len(replies))
			}
			for _, c := range srv.Calls() {
				if n := len(c.Prompt) + *c.Request.MaxTokens; n > want {
					t.Fatalf("call %d asks for %d tokens, more than the server takes", c.N, n)
				}
				if c.Output == nil {
					t.Fatalf("call %d was refused", c.N)
				}
				if len(c.Output) < min(*c.Request.MaxTokens, 301) {
					t.Fatalf("call %d produced %d of %d tokens: cut by the server", c.N, len(c.Output), *c.Request.MaxTokens)
				}
			}
		})
	}
	t.Run("refuse", func(t *testing.T) {
		srv := openaitest.NewServerWith(t, nil, openaitest.Options{MaxModelLen: 32768})
		p, _ := newPolicy(t, srv, func(c *openai.Config) { c.FitContext = openai.FitRefuse })
		err := p.Check(context.Background())
		wantFatal(t, err)
		if !strings.Contains(err.Error(), "65536") || !strings.Contains(err.Error(), "32768") {
			t.Fatalf("Check: %v", err)
		}
	})
}

// Point 4: special-token text in an observation or the issue never becomes a control
// token, and the reply's text is its ids' text (specials not skipped).
func TestSpecialTokenTextStaysText(t *testing.T) {
	all := strings.Join(openaitest.Specials, " ")
	for name, o := range modes {
		t.Run(name, func(t *testing.T) {
			reply := "```command\necho <|im_start|>\n```"
			srv := openaitest.NewServerWith(t, openaitest.Script(openaitest.Chat(reply)), o)
			p, _ := newPolicy(t, srv, nil)
			req := firstRequest()
			req.Task.Statement = "Broken: " + all
			r0, err := p.Generate(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if r0.Text != reply {
				t.Fatalf("reply text %q, want %q (the ids' text)", r0.Text, reply)
			}
			r1, err := p.Generate(context.Background(), next(req, r0, "output: "+all+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			// Segments hold exactly the template's specials: 5 in the first (system and
			// user: start and end each; the assistant's start), 3 in the second.
			for i, seg := range [][]int32{r0.Prompt, r1.Prompt} {
				n := 0
				for _, id := range seg {
					if openaitest.IsSpecial(id) {
						n++
					}
				}
				if want := []int{5, 3}[i]; n != want {
					t.Fatalf("segment %d holds %d special tokens, want %d (the template's): %q", i, n, want, openaitest.Decode(seg))
				}
				if !strings.Contains(openaitest.Decode(seg), all) {
					t.Fatalf("segment %d lost the text: %q", i, openaitest.Decode(seg))
				}
			}
		})
	}
}

// Point 5: a reply that ends with another EOS of the model (vLLM adds the generation
// config's EOS ids to the stop ids) ended its turn: the next segment gets no second
// end-of-turn token.
func TestAnyStopEndsTheTurn(t *testing.T) {
	for name, o := range modes {
		t.Run(name, func(t *testing.T) {
			srv := openaitest.NewServerWith(t, openaitest.Script(openaitest.Response{Text: "done", End: openaitest.EndOfText}), o)
			p, _ := newPolicy(t, srv, func(c *openai.Config) { c.StopTokens = []string{} })
			replies := run(t, p, 2, "ok")
			if last := replies[0].Tokens[len(replies[0].Tokens)-1]; last != openaitest.EndOfText {
				t.Fatalf("reply 0 ends with %d, want <|endoftext|>", last)
			}
			if got := openaitest.Decode(replies[1].Prompt); strings.HasPrefix(got, "<|im_end|>") {
				t.Fatalf("segment after a reply ended by <|endoftext|> = %q: a second end of turn", got)
			}
		})
	}
}

// Point 7: on SGLang, which lists no LoRA adapters, the policy version is checked by
// weight version: at Load and on every answer.
func TestSGLangWeightVersion(t *testing.T) {
	srv := openaitest.NewServerWith(t, nil, modes["sglang"])
	p, _ := newPolicy(t, srv, func(c *openai.Config) {
		c.WeightVersion = func(v int) string {
			if v == 0 {
				return ""
			}
			return "v" + string(rune('0'+v))
		}
	})
	ctx := context.Background()
	if err := p.Load(ctx, 0); err != nil {
		t.Fatalf("Load(0), unchecked: %v", err)
	}
	err := p.Load(ctx, 1)
	wantFatal(t, err)
	if !errors.Is(err, openai.ErrNotServed) || !strings.Contains(err.Error(), `"default"`) {
		t.Fatalf("Load(1) while the server has weights \"default\": %v", err)
	}
	srv.SetWeightVersion("v1")
	if err := p.Load(ctx, 1); err != nil {
		t.Fatalf("Load(1) with v1 served: %v", err)
	}
	req := firstRequest()
	req.Version = 1
	if _, err := p.Generate(ctx, req); err != nil {
		t.Fatal(err)
	}
	srv.SetWeightVersion("v2") // the trainer moved on while an episode of version 1 ran
	_, err = p.Generate(ctx, req)
	if err == nil || !strings.Contains(err.Error(), "off-policy") {
		t.Fatalf("Generate for version 1 answered by weights v2: %v", err)
	}
}

// SGLang's /v1/completions is not used: its log-probs name tokens by text.
func TestSGLangCompletionsAreNotExact(t *testing.T) {
	srv := openaitest.NewServerWith(t, nil, modes["sglang"])
	body := `{"model":"` + openaitest.DefaultModel + `","prompt":[1,2],"max_tokens":8,"logprobs":0,"return_tokens_as_token_ids":true}`
	resp, err := srv.Client().Post(srv.URL+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	data, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(data), "token_id:") {
		t.Fatalf("the SGLang stub answered token ids on /v1/completions: %s", data)
	}
}
