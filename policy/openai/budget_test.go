package openai_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/swerl/swerl/policy/openai"
	"github.com/swerl/swerl/policy/openai/openaitest"
	"github.com/swerl/swerl/swe"
)

var segment0 = openaitest.Encode(firstSegment(swe.SystemPrompt))

// A context that already fills the budget ends the episode without a completion call;
// the segment still comes back, so the transcript records what would have been sent.
func TestOverflowBeforeGenerating(t *testing.T) {
	t.Run("first turn", func(t *testing.T) {
		srv := openaitest.NewServer(t, nil)
		p, _ := newPolicy(t, srv, func(c *openai.Config) { c.ContextBudget = len(segment0) })
		reply, err := p.Generate(context.Background(), firstRequest())
		if err != nil {
			t.Fatal(err)
		}
		if !reply.Overflow || !slices.Equal(reply.Prompt, segment0) || reply.Tokens != nil || len(srv.Calls()) != 0 {
			t.Fatalf("reply %+v after %d calls; want Overflow with the segment, no tokens, no call", reply.Overflow, len(srv.Calls()))
		}
		if st := p.Stats(); st.Overflows != 1 || st.Completions != 0 {
			t.Fatalf("stats = %+v", st)
		}
	})
	t.Run("later turn", func(t *testing.T) {
		srv := openaitest.NewServer(t, openaitest.Script(openaitest.Chat("ls")))
		// Room for the first turn and its reply, not for the observation after it.
		p, _ := newPolicy(t, srv, func(c *openai.Config) { c.ContextBudget = len(segment0) + 20 })
		reply, err := p.Generate(context.Background(), firstRequest())
		if err != nil || reply.Overflow {
			t.Fatalf("first turn: %+v, %v", reply, err)
		}
		reply, err = p.Generate(context.Background(), next(firstRequest(), reply, strings.Repeat("output ", 10)))
		if err != nil {
			t.Fatal(err)
		}
		if !reply.Overflow || len(reply.Prompt) == 0 || reply.Tokens != nil || len(srv.Calls()) != 1 {
			t.Fatalf("second turn %+v after %d calls", reply, len(srv.Calls()))
		}
	})
}

// max_tokens is what is left of the budget; a reply cut there keeps its tokens and
// reports the overflow.
func TestOverflowByLength(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.Script(openaitest.Chat(strings.Repeat("a", 50))))
	p, _ := newPolicy(t, srv, func(c *openai.Config) { c.ContextBudget = len(segment0) + 10 })
	reply, err := p.Generate(context.Background(), firstRequest())
	if err != nil {
		t.Fatal(err)
	}
	if got := *srv.Calls()[0].Request.MaxTokens; got != 10 {
		t.Errorf("max_tokens = %d, want 10 (the budget left)", got)
	}
	if !reply.Overflow || len(reply.Tokens) != 10 || len(reply.Logprobs) != 10 || reply.Text != strings.Repeat("a", 10) {
		t.Fatalf("reply = %+v, want Overflow with the 10 tokens produced", reply)
	}
}
