package openai

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/swerl/swerl/policy"
)

// maxBody bounds an answer's size (a 4096-token reply with log-probs is ~0.3 MiB).
const maxBody = 64 << 20

// StatusError is an answer with a non-2xx status. Generate, Load and Check return it
// wrapped in a *policy.Error; find it with errors.As.
type StatusError struct {
	Method, URL string
	Status      int
	Body        string // an excerpt of the body
	Hint        string // what to check, for statuses that need a person
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// retryBudget is the retries left to one Generate, Load or Check; its calls share it.
type retryBudget struct{ left int }

func (p *Policy) newBudget() *retryBudget { return &retryBudget{left: p.cfg.MaxRetries} }

// attemptError is why one HTTP attempt failed.
type attemptError struct {
	err        error
	retryable  bool
	retryAfter time.Duration // the server's Retry-After, capped; < 0 when none
}

func fatal(err error) *attemptError { return &attemptError{err: err, retryAfter: -1} }
func retry(err error) *attemptError { return &attemptError{err: err, retryable: true, retryAfter: -1} }

// call sends in (nil for none) as JSON to path and decodes the answer into out,
// retrying retryable failures while b lasts. model names the model the request is
// about, for error hints. The error is a *policy.Error, or ctx's error wrapped.
func (p *Policy) call(ctx context.Context, b *retryBudget, method, path, model string, in, out any) error {
	addr := p.base + path
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return &policy.Error{Err: fmt.Errorf("openai: encoding the request to %s: %w", addr, err)}
		}
	}
	for attempt := 1; ; attempt++ {
		ae := p.attempt(ctx, method, addr, model, body, out)
		if ae == nil {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return contextError(ctx, method, addr, ae.err)
		}
		if !ae.retryable {
			return &policy.Error{Err: fmt.Errorf("openai: %w", ae.err)}
		}
		if b.left <= 0 {
			return &policy.Error{Retryable: true, Err: fmt.Errorf("openai: %w (gave up after %d attempts)", ae.err, attempt)}
		}
		wait := ae.retryAfter
		if wait < 0 {
			wait = p.backoff(attempt - 1)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return &policy.Error{Retryable: true, Err: fmt.Errorf("openai: %w (not retried: waiting %v would pass the deadline)", ae.err, wait)}
		}
		b.left--
		p.stats.retries.Add(1)
		if err := p.cfg.Sleep(ctx, wait); err != nil {
			return contextError(ctx, method, addr, ae.err)
		}
	}
}

// contextError wraps ctx's error (so that errors.Is finds it), naming the request and
// the last failure.
func contextError(ctx context.Context, method, addr string, last error) error {
	if last == nil || errors.Is(last, ctx.Err()) {
		return fmt.Errorf("openai: %s %s: %w", method, addr, ctx.Err())
	}
	return fmt.Errorf("openai: %s %s: %w (last failure: %v)", method, addr, ctx.Err(), last)
}

// attempt makes one HTTP request, bounded by RequestTimeout and the concurrency cap.
func (p *Policy) attempt(ctx context.Context, method, addr, model string, body []byte, out any) *attemptError {
	if err := p.sem.Acquire(ctx, 1); err != nil {
		return retry(err) // ctx is done; call returns its error
	}
	defer p.sem.Release(1)
	actx, cancel := context.WithTimeout(ctx, p.cfg.RequestTimeout)
	defer cancel()

	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, addr, rd)
	if err != nil {
		return fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if p.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+p.cfg.APIKey)
	}
	p.stats.requests.Add(1)
	resp, err := p.client.Do(req)
	if err != nil {
		p.stats.transport.Add(1)
		return p.transportError(actx, fmt.Errorf("%s %s: no answer: %w", method, addr, unwrapURLError(err)))
	}
	defer resp.Body.Close()
	p.stats.countStatus(resp.StatusCode)
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return p.transportError(actx, fmt.Errorf("%s %s: HTTP %d, answer cut off: %w", method, addr, resp.StatusCode, err))
	}
	if len(data) > maxBody {
		return fatal(fmt.Errorf("%s %s: answer larger than %d bytes", method, addr, maxBody))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return p.statusError(method, addr, model, resp, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return retry(fmt.Errorf("%s %s: malformed JSON answer (%v): %s", method, addr, err, excerpt(data)))
	}
	if c, ok := out.(checker); ok {
		if ae := c.check(); ae != nil {
			ae.err = fmt.Errorf("%s %s: %w", method, addr, ae.err)
			return ae
		}
	}
	return nil
}

// unwrapURLError drops *url.Error's repetition of the method and URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// transportError classifies a failure without a (complete) answer: a per-attempt
// timeout or a broken connection is retryable, a certificate problem is not.
func (p *Policy) transportError(actx context.Context, err error) *attemptError {
	if errors.Is(actx.Err(), context.DeadlineExceeded) {
		return retry(fmt.Errorf("%w (Config.RequestTimeout %v passed)", err, p.cfg.RequestTimeout))
	}
	var cert *tls.CertificateVerificationError
	if errors.As(err, &cert) {
		return fatal(err)
	}
	return retry(err)
}

// statusError classifies a non-2xx answer: 408, 429 and 5xx are retryable (after the
// server's Retry-After, if any); any other status needs a person.
func (p *Policy) statusError(method, addr, model string, resp *http.Response, body []byte) *attemptError {
	se := &StatusError{Method: method, URL: addr, Status: resp.StatusCode, Body: excerpt(body)}
	code := resp.StatusCode
	if code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500 {
		ae := retry(se)
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			ae.retryAfter = min(d, p.cfg.BackoffMax)
		}
		return ae
	}
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		se.Hint = "check Config.APIKey and the server's --api-key"
	case http.StatusNotFound:
		se.Hint = fmt.Sprintf("check that model %q is served (GET %s/v1/models lists them) and that Config.Endpoint is the server's root or /v1 URL", model, p.base)
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		se.Hint = fmt.Sprintf("check that model %q takes token-id prompts and vLLM's sampling fields, and that Config.ContextBudget (%d) is within the server's --max-model-len", model, p.cfg.ContextBudget)
	default:
		se.Hint = fmt.Sprintf("check Config.Endpoint %q and model %q", p.cfg.Endpoint, model)
	}
	return fatal(se)
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(h, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, int64(time.Duration(1<<62)/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// backoff is the full-jitter wait before retry n (0-based).
func (p *Policy) backoff(n int) time.Duration {
	ceiling := p.cfg.BackoffMax
	if n < 62 {
		if d := p.cfg.BackoffBase << n; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	p.rngMu.Lock()
	defer p.rngMu.Unlock()
	return time.Duration(p.rng.Int64N(int64(ceiling) + 1))
}

// excerpt is the start of a body on one line, for error messages.
func excerpt(body []byte) string {
	const n = 300
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
