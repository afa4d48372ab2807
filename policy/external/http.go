package external

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/records"
)

// Statuses of GET {base}/batches/{policy_version}.
const (
	StatusTraining = "training"
	StatusServed   = "served"
	StatusFailed   = "failed"
)

// maxRequest bounds one status request (a hung trainer must not eat the whole
// Timeout in one GET).
const maxRequest = 30 * time.Second

// BatchRequest is the body of POST {base}/batches.
type BatchRequest struct {
	Iteration     int              `json:"iteration"`
	PolicyVersion int              `json:"policy_version"`
	ExpectVersion int              `json:"expect_version"`
	Records       []records.Record `json:"records"`
}

type httpProtocol struct{ base string }

// NewHTTP returns a trainer that exchanges batches with an outside trainer over
// HTTP at baseURL (see the package doc for the protocol).
func NewHTTP(baseURL string, opts Options) (*Trainer, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("external: trainer URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("external: trainer URL %q: want http://HOST[:PORT][/PATH] or https://...", baseURL)
	}
	base := strings.TrimRight(baseURL, "/")
	return newTrainer(base, httpProtocol{base: base}, opts), nil
}

// outcome classifies one HTTP exchange.
type outcome int

const (
	done      outcome = iota // the request did what it was for
	waiting                  // the trainer is not done yet (or not there yet): poll again
	transient                // the trainer could not answer (refused, 5xx): try again
	fatal                    // a mistake retrying cannot fix
)

func (p httpProtocol) exchange(ctx context.Context, t *Trainer, b messages.TrainBatch, want int) (answer, error) {
	deadline := time.Now().Add(t.opts.Timeout)
	statusURL := fmt.Sprintf("%s/batches/%d", p.base, b.PolicyVersion)
	poll := func() (answer, outcome, error) { return p.status(ctx, t, statusURL, b.PolicyVersion, want, deadline) }

	// A restart after the trainer answered, or while it trains: do not send again.
	a, oc, err := poll()
	switch {
	case oc == done:
		return a, nil
	case oc == fatal && a.Status != StatusFailed: // a batch that failed before is sent again
		return answer{}, err
	case ctx.Err() != nil:
		return answer{}, t.waitErr(ctx, want)
	}
	if oc != waiting || a.Status != StatusTraining {
		body, err := json.Marshal(BatchRequest{Iteration: b.Iteration, PolicyVersion: b.PolicyVersion, ExpectVersion: want,
			Records: batchRecords(b)})
		if err != nil {
			return answer{}, fmt.Errorf("external trainer at %s: encode batch %d: %w", p.base, b.PolicyVersion, err)
		}
		var last error
		for {
			oc, err := p.post(ctx, t, body, b.PolicyVersion, deadline)
			if oc == done {
				break
			}
			if oc == fatal {
				return answer{}, err
			}
			last = keep(last, err, deadline)
			if err := p.pause(ctx, t, deadline); err != nil {
				if ctx.Err() != nil {
					return answer{}, t.waitErr(ctx, want)
				}
				return answer{}, fmt.Errorf("external trainer at %s did not accept batch %d within %v: POST %s/batches: %v",
					p.base, b.PolicyVersion, t.opts.Timeout, p.base, last)
			}
		}
	}
	var last error
	for {
		if err := p.pause(ctx, t, deadline); err != nil {
			if ctx.Err() != nil {
				return answer{}, t.waitErr(ctx, want)
			}
			err := fmt.Errorf("external trainer at %s did not report policy %d served within %v: expected GET %s to say %q",
				p.base, want, t.opts.Timeout, statusURL, StatusServed)
			if last != nil {
				err = fmt.Errorf("%w (last: %v)", err, last)
			}
			return answer{}, err
		}
		a, oc, err := poll()
		switch oc {
		case done:
			return a, nil
		case fatal:
			return answer{}, err
		}
		last = keep(last, err, deadline)
	}
}

// keep returns err, the latest reason to wait, unless it only says that the request
// was cut by the overall deadline: then the reason before it is the one to report.
func keep(last, err error, deadline time.Time) error {
	if errors.Is(err, context.DeadlineExceeded) && !time.Now().Before(deadline) {
		return last
	}
	return err
}

// pause sleeps one poll interval, or what is left before deadline; it fails once the
// deadline has passed or ctx is done.
func (p httpProtocol) pause(ctx context.Context, t *Trainer, deadline time.Time) error {
	left := time.Until(deadline)
	if left <= 0 {
		return context.DeadlineExceeded
	}
	return t.opts.Sleep(ctx, min(t.opts.Poll, left))
}

// post sends the batch once.
func (p httpProtocol) post(ctx context.Context, t *Trainer, body []byte, version int, deadline time.Time) (outcome, error) {
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	u := p.base + "/batches"
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fatal, fmt.Errorf("external trainer at %s: %w", p.base, err)
	}
	req.Header.Set("Content-Type", "application/json")
	code, text, err := do(t.opts.HTTPClient, req)
	switch {
	case err != nil:
		return transient, err
	case code == http.StatusOK || code == http.StatusCreated || code == http.StatusAccepted || code == http.StatusConflict:
		return done, nil
	case retryableCode(code):
		return transient, fmt.Errorf("%d %s: %s", code, http.StatusText(code), snippet(text))
	default:
		return fatal, fmt.Errorf("external trainer at %s rejected batch %d: POST %s: %d %s: %s",
			p.base, version, u, code, http.StatusText(code), snippet(text))
	}
}

// status asks how the batch is going. waiting carries the status seen (in the answer
// and in the error, for the timeout message).
func (p httpProtocol) status(ctx context.Context, t *Trainer, u string, version, want int, deadline time.Time) (answer, outcome, error) {
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	rctx, cancel2 := context.WithTimeout(rctx, maxRequest)
	defer cancel2()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		return answer{}, fatal, fmt.Errorf("external trainer at %s: %w", p.base, err)
	}
	code, text, err := do(t.opts.HTTPClient, req)
	switch {
	case err != nil:
		return answer{}, transient, err
	case code == http.StatusNotFound:
		return answer{}, waiting, errors.New("404: the trainer does not know the batch yet")
	case retryableCode(code):
		return answer{}, transient, fmt.Errorf("%d %s: %s", code, http.StatusText(code), snippet(text))
	case code != http.StatusOK:
		return answer{}, fatal, fmt.Errorf("external trainer at %s: GET %s: %d %s: %s", p.base, u, code, http.StatusText(code), snippet(text))
	}
	a, err := decodeAnswer([]byte(text), "GET "+u, false)
	if err != nil {
		return answer{}, fatal, fmt.Errorf("external trainer at %s: %w", p.base, err)
	}
	switch a.Status {
	case StatusServed:
		if a.Version != want {
			return answer{}, fatal, fmt.Errorf("external trainer at %s reported policy %d served for batch %d (GET %s); expected %d",
				p.base, a.Version, version, u, want)
		}
		return a, done, nil
	case StatusFailed:
		msg := a.Error
		if msg == "" {
			msg = "(no error message)"
		}
		return a, fatal, fmt.Errorf("external trainer at %s failed to train batch %d (policy %d -> %d): %s",
			p.base, version, version, want, msg)
	case "":
		return a, fatal, fmt.Errorf("external trainer at %s: GET %s: no \"status\" in %s", p.base, u, snippet(text))
	default: // "training", or a status of the trainer's own ("queued"...)
		return a, waiting, fmt.Errorf("status %q", a.Status)
	}
}

// do sends req and reads up to 1 MiB of the answer's body.
func do(c *http.Client, req *http.Request) (code int, body string, err error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

// snippet shortens a response body for an error message.
func snippet(s string) string {
	const max = 500
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// retryableCode says whether a status code means "try again later".
func retryableCode(code int) bool {
	return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
}
