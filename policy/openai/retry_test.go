package openai_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/swerl/swerl/policy/openai"
	"github.com/swerl/swerl/policy/openai/openaitest"
)

func status(code int) openaitest.Response { return openaitest.Response{Status: code} }

func TestMalformedJSONRetriedThenRetryable(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.Script(openaitest.Response{Body: `{"choices": [`}))
	p, sl := newPolicy(t, srv, func(c *openai.Config) { c.MaxRetries = 3 })
	_, err := p.Generate(context.Background(), firstRequest())
	wantRetryable(t, err)
	if !strings.Contains(err.Error(), "malformed JSON") || !strings.Contains(err.Error(), "gave up after 4 attempts") {
		t.Errorf("error = %v", err)
	}
	if n := len(srv.Calls()); n != 4 || len(sl.all()) != 3 || p.Stats().Retries != 3 {
		t.Fatalf("%d calls, %d waits, stats %+v; want 4 calls, 3 waits", n, len(sl.all()), p.Stats())
	}
}

// Retryable statuses are retried with jittered backoff, then succeed.
func TestRetryableStatusesThenSuccess(t *testing.T) {
	for _, code := range []int{500, 502, 503, 408, 429} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			srv := openaitest.NewServer(t, openaitest.Script(status(code), status(code), openaitest.Chat("ok")))
			p, sl := newPolicy(t, srv, nil)
			reply, err := p.Generate(context.Background(), firstRequest())
			if err != nil || reply.Text != "ok" {
				t.Fatalf("reply %q, err %v", reply.Text, err)
			}
			st := p.Stats()
			if len(srv.Calls()) != 3 || st.Retries != 2 || len(sl.all()) != 2 {
				t.Fatalf("%d calls, stats %+v", len(srv.Calls()), st)
			}
			for i, d := range sl.all() {
				if d < 0 || d > time.Millisecond<<i {
					t.Errorf("wait %d = %v, want within [0, %v]", i, d, time.Millisecond<<i)
				}
			}
		})
	}
}

// Other 4xx need a person: fatal at once, naming the URL, the status, the body and
// what to check.
func TestClientErrorsAreFatal(t *testing.T) {
	for code, hint := range map[int]string{400: "max-model-len", 401: "APIKey", 403: "APIKey", 404: "is served", 422: "max-model-len"} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			srv := openaitest.NewServer(t, openaitest.Script(status(code)))
			p, sl := newPolicy(t, srv, nil)
			_, err := p.Generate(context.Background(), firstRequest())
			wantFatal(t, err)
			var se *openai.StatusError
			if !errors.As(err, &se) || se.Status != code {
				t.Fatalf("error %v is not a StatusError %d", err, code)
			}
			for _, s := range []string{srv.URL + "/v1/completions", "HTTP " + strconv.Itoa(code), "stub answered", hint} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if len(srv.Calls()) != 1 || len(sl.all()) != 0 {
				t.Fatalf("%d calls, %d waits; want no retry", len(srv.Calls()), len(sl.all()))
			}
		})
	}
}

// A model the server does not serve: vLLM answers 404, the error names the model.
func TestUnknownModelIsFatal(t *testing.T) {
	srv := openaitest.NewServer(t, nil)
	p, _ := newPolicy(t, srv, func(c *openai.Config) { c.ModelFor = func(v int) string { return "policy-v" + strconv.Itoa(v) } })
	req := firstRequest()
	req.Version = 3
	_, err := p.Generate(context.Background(), req)
	wantFatal(t, err)
	if !strings.Contains(err.Error(), `"policy-v3"`) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("error %q does not name the model and the status", err)
	}
	if c := srv.Calls(); len(c) != 1 || c[0].Request.Model != "policy-v3" {
		t.Fatalf("calls %+v", c)
	}
}

func TestRetryAfterSecondsHonoured(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.Script(
		openaitest.Response{Status: 429, Header: http.Header{"Retry-After": {"1"}}}, openaitest.Chat("ok")))
	p, sl := newPolicy(t, srv, func(c *openai.Config) { c.BackoffMax = 30 * time.Second })
	if _, err := p.Generate(context.Background(), firstRequest()); err != nil {
		t.Fatal(err)
	}
	if got := sl.all(); !slices.Equal(got, []time.Duration{time.Second}) {
		t.Fatalf("waits = %v, want [1s] (Retry-After)", got)
	}
	// 2xx: /version, /v1/models, 3 /tokenize (end of turn, stop, specials), the
	// segment's /tokenize and the completion.
	if st := p.Stats(); st.Status429 != 1 || st.Status4xx != 1 || st.Status2xx != 7 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestRetryAfterDateCappedByBackoffMax(t *testing.T) {
	later := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	srv := openaitest.NewServer(t, openaitest.Script(
		openaitest.Response{Status: 503, Header: http.Header{"Retry-After": {later}}}, openaitest.Chat("ok")))
	p, sl := newPolicy(t, srv, func(c *openai.Config) { c.BackoffMax = 30 * time.Second })
	if _, err := p.Generate(context.Background(), firstRequest()); err != nil {
		t.Fatal(err)
	}
	if got := sl.all(); !slices.Equal(got, []time.Duration{30 * time.Second}) {
		t.Fatalf("waits = %v, want [30s] (Retry-After capped by BackoffMax)", got)
	}
}

// A Retry-After past the caller's deadline is not waited out: the caller gets a
// retryable error at once and can reschedule.
func TestRetryAfterPastDeadline(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.Script(
		openaitest.Response{Status: 429, Header: http.Header{"Retry-After": {"20"}}}, openaitest.Chat("ok")))
	p, sl := newPolicy(t, srv, func(c *openai.Config) { c.BackoffMax = time.Minute })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := p.Generate(ctx, firstRequest())
	wantRetryable(t, err)
	if !strings.Contains(err.Error(), "deadline") || len(sl.all()) != 0 || len(srv.Calls()) != 1 {
		t.Fatalf("error %q after %d calls, waits %v", err, len(srv.Calls()), sl.all())
	}
}

// A reply slower than RequestTimeout is cut and retried. The stub is in memory, in a
// synctest bubble: the timeout and the slow reply's delay are fake time, and every
// other request takes none, so only the slow reply can pass the timeout, whatever
// the speed of the machine.
func TestSlowReplyPastRequestTimeout(t *testing.T) {
	slow := openaitest.Response{Delay: time.Minute}
	inMemory := func(srv *openaitest.Server, edit func(*openai.Config)) func(*openai.Config) {
		return func(c *openai.Config) {
			c.HTTPClient = srv.Client()
			edit(c)
		}
	}
	t.Run("retried then retryable", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := openaitest.NewInMemory(t, openaitest.Script(slow))
			p, sl := newPolicy(t, srv, inMemory(srv, func(c *openai.Config) { c.RequestTimeout, c.MaxRetries = 50*time.Millisecond, 1 }))
			start := time.Now()
			_, err := p.Generate(context.Background(), firstRequest())
			wantRetryable(t, err)
			if !strings.Contains(err.Error(), "RequestTimeout") || len(srv.Calls()) != 2 || len(sl.all()) != 1 {
				t.Fatalf("error %q after %d calls and waits %v", err, len(srv.Calls()), sl.all())
			}
			if d := time.Since(start); d != 100*time.Millisecond {
				t.Errorf("Generate took %v of fake time, want 2 x 50ms", d)
			}
		})
	})
	t.Run("retried then success", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := openaitest.NewInMemory(t, openaitest.Script(slow, openaitest.Chat("ok")))
			p, _ := newPolicy(t, srv, inMemory(srv, func(c *openai.Config) { c.RequestTimeout = 50 * time.Millisecond }))
			start := time.Now()
			if reply, err := p.Generate(context.Background(), firstRequest()); err != nil || reply.Text != "ok" {
				t.Fatalf("reply %q, err %v", reply.Text, err)
			}
			if d := time.Since(start); d != 50*time.Millisecond {
				t.Errorf("Generate took %v of fake time, want 50ms", d)
			}
			if n := len(srv.Calls()); n != 2 {
				t.Errorf("%d calls, want 2", n)
			}
		})
	})
}

func TestClosedConnectionsRetried(t *testing.T) {
	cut := openaitest.Response{CloseConn: true}
	srv := openaitest.NewServer(t, openaitest.Script(cut, cut, openaitest.Chat("ok")))
	p, _ := newPolicy(t, srv, nil)
	reply, err := p.Generate(context.Background(), firstRequest())
	if err != nil || reply.Text != "ok" {
		t.Fatalf("reply %q, err %v", reply.Text, err)
	}
	if st := p.Stats(); st.TransportErrors != 2 || st.Retries != 2 {
		t.Fatalf("stats = %+v", st)
	}
}

// A server that disappears mid-iteration, with a completion in flight: the call is
// cut, the retries find nobody, and the caller gets a retryable error, not a hang.
func TestServerDisappears(t *testing.T) {
	started := make(chan struct{}, 1)
	srv := openaitest.NewServer(t, func(c openaitest.Call) openaitest.Response {
		if c.N == 1 {
			return openaitest.Chat("ok")
		}
		select {
		case started <- struct{}{}:
		default:
		}
		return openaitest.Response{Delay: time.Minute}
	})
	p, sl := newPolicy(t, srv, func(c *openai.Config) { c.MaxRetries = 3 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a guard against a hang
	defer cancel()
	reply, err := p.Generate(ctx, firstRequest())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := p.Generate(ctx, next(firstRequest(), reply, "ok"))
		done <- err
	}()
	<-started
	srv.Close()
	err = <-done
	wantRetryable(t, err)
	if errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "gave up after 4 attempts") {
		t.Fatalf("error = %v", err)
	}
	if len(sl.all()) != 3 {
		t.Fatalf("waits = %v, want 3", sl.all())
	}
}

func TestContextEnds(t *testing.T) {
	t.Run("cancelled", func(t *testing.T) {
		started := make(chan struct{})
		srv := openaitest.NewServer(t, func(openaitest.Call) openaitest.Response {
			close(started)
			return openaitest.Response{Delay: time.Minute}
		})
		p, _ := newPolicy(t, srv, nil)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-started; cancel() }()
		_, err := p.Generate(ctx, firstRequest())
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), srv.URL) {
			t.Fatalf("error = %v, want context.Canceled naming the URL", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		srv := openaitest.NewServer(t, openaitest.Script(openaitest.Response{Delay: time.Minute}))
		p, _ := newPolicy(t, srv, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := p.Generate(ctx, firstRequest())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v, want DeadlineExceeded", err)
		}
		wantRetryable(t, err)
	})
	t.Run("during backoff", func(t *testing.T) {
		srv := openaitest.NewServer(t, openaitest.Script(status(500)))
		ctx, cancel := context.WithCancel(context.Background())
		p, _ := newPolicy(t, srv, func(c *openai.Config) {
			c.Sleep = func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() }
		})
		_, err := p.Generate(ctx, firstRequest())
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "HTTP 500") || len(srv.Calls()) != 1 {
			t.Fatalf("error = %v after %d calls, want context.Canceled with the last failure after 1", err, len(srv.Calls()))
		}
	})
}

// The jitter is seeded: the same Seed gives the same waits, within the exponential
// ceiling.
func TestBackoffSeeded(t *testing.T) {
	waits := func(seed uint64) []time.Duration {
		srv := openaitest.NewServer(t, openaitest.Script(status(500)))
		p, sl := newPolicy(t, srv, func(c *openai.Config) {
			c.Seed, c.MaxRetries, c.BackoffBase, c.BackoffMax = seed, 5, 8*time.Millisecond, 40*time.Millisecond
		})
		_, err := p.Generate(context.Background(), firstRequest())
		wantRetryable(t, err)
		return sl.all()
	}
	a, b := waits(42), waits(42)
	if !slices.Equal(a, b) || len(a) != 5 {
		t.Fatalf("seed 42 gave %v then %v", a, b)
	}
	for i, d := range a {
		if ceil := min(40*time.Millisecond, 8*time.Millisecond<<i); d < 0 || d > ceil {
			t.Errorf("wait %d = %v, want within [0, %v]", i, d, ceil)
		}
	}
}
