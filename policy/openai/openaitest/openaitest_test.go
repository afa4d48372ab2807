package openaitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/quick"
	"testing/synctest"
	"time"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	f := func(s string) bool { return Decode(Encode(s)) == s }
	if err := quick.Check(f, nil); err != nil {
		t.Fatal(err)
	}
	got := Encode("<|im_start|>a<|im_end|>\n<|endoftext|><|im")
	want := []int32{ImStart, 'a', ImEnd, '\n', EndOfText, '<', '|', 'i', 'm'}
	if !slices.Equal(got, want) {
		t.Fatalf("Encode = %v, want %v", got, want)
	}
}

func TestParseChat(t *testing.T) {
	text := "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi\nthere<|im_end|>\n" +
		"<|im_start|>assistant\nhello<|im_end|>\n<|im_start|>assistant\n"
	system, turns := ParseChat(text)
	want := []ChatTurn{{Role: "user", Content: "hi\nthere"}, {Role: "assistant", Content: "hello"}, {Role: "assistant", Open: true}}
	if system != "be brief" || !slices.Equal(turns, want) {
		t.Fatalf("ParseChat = %q %+v, want %q %+v", system, turns, "be brief", want)
	}
}

func TestCompletionLikeVLLM(t *testing.T) {
	s := NewServer(t, Script(Chat("hi"), Chat("abcdef")))
	post := func(maxTokens int) map[string]any {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"model": DefaultModel, "prompt": []int32{1, 2}, "max_tokens": maxTokens, "return_token_ids": true, "logprobs": 0})
		resp, err := http.Post(s.URL+"/v1/completions", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Choices []map[string]any `json:"choices"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out.Choices[0]
	}
	c := post(10)
	if c["text"] != "hi" || c["finish_reason"] != "stop" || len(c["token_ids"].([]any)) != 3 {
		t.Fatalf("stop reply = %v", c)
	}
	c = post(4)
	if c["text"] != "abcd" || c["finish_reason"] != "length" || len(c["token_ids"].([]any)) != 4 {
		t.Fatalf("length reply = %v", c)
	}
	if calls := s.Calls(); len(calls) != 2 || !slices.Equal(calls[1].Prompt, []int32{1, 2}) || *calls[1].Request.MaxTokens != 4 {
		t.Fatalf("calls = %+v", calls)
	}
}

// The in-memory stub answers in a synctest bubble: a delay is fake time, cut by the
// request's context; a cut connection and a closed stub are errors, not answers.
func TestInMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewInMemory(t, Script(Response{Delay: time.Minute, Text: "late"}, Response{CloseConn: true}, Chat("hi")))
		c := s.Client()
		post := func(ctx context.Context) (*http.Response, error) {
			body, _ := json.Marshal(map[string]any{"model": DefaultModel, "prompt": []int32{1}, "max_tokens": 10})
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/v1/completions", bytes.NewReader(body))
			return c.Do(req)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		if _, err := post(ctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("delayed call: %v after %v, want DeadlineExceeded after 1s", err, time.Since(start))
		}
		if _, err := post(t.Context()); err == nil {
			t.Fatal("cut connection: no error")
		}
		resp, err := post(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Choices []map[string]any `json:"choices"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || len(out.Choices) != 1 || out.Choices[0]["text"] != "hi" {
			t.Fatalf("answer %+v, %v", out, err)
		}
		s.Close()
		if _, err := post(t.Context()); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("closed stub: %v", err)
		}
		if n := len(s.Calls()); n != 3 {
			t.Fatalf("%d calls, want 3", n)
		}
	})
}
