package openai_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/policy/openai"
	"github.com/swerl/swerl/policy/openai/openaitest"
)

// Ten episodes share a Policy capped at two requests in flight: the server never sees
// more, and every episode gets its own context back.
func TestMaxConcurrent(t *testing.T) {
	srv := openaitest.NewServer(t, func(c openaitest.Call) openaitest.Response {
		_, chat := openaitest.ParseChat(c.Text)
		return openaitest.Response{Text: "echo " + chat[len(chat)-2].Content, Delay: 5 * time.Millisecond}
	})
	p, _ := newPolicy(t, srv, func(c *openai.Config) { c.MaxConcurrent = 2 })
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Go(func() {
			req := firstRequest()
			var reply policy.Reply
			for turn := range 3 {
				r, err := p.Generate(context.Background(), req)
				if err != nil {
					errs[i] = err
					return
				}
				if turn > 0 && r.Text != fmt.Sprintf("echo obs %d/%d", i, turn-1) {
					errs[i] = fmt.Errorf("turn %d: reply %q answers another episode", turn, r.Text)
					return
				}
				reply = r
				req = next(req, reply, fmt.Sprintf("obs %d/%d", i, turn))
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("episode %d: %v", i, err)
		}
	}
	if n := srv.MaxInFlight(); n > 2 {
		t.Fatalf("%d requests in flight at once, cap 2", n)
	}
	if st := p.Stats(); st.Generates != 30 || st.Completions != 30 {
		t.Fatalf("stats = %+v", st)
	}
}
