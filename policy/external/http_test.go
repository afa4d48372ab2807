package external

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/swerl/swerl/messages"
)

// fakeHTTPTrainer is an outside trainer behind the HTTP protocol, with fault knobs.
type fakeHTTPTrainer struct {
	t *testing.T

	// Knobs, set before the server starts.
	postCodes   []int          // codes answered to successive POSTs (then 202)
	before      map[string]any // GET answer before any POST (nil: 404)
	unavailable int            // GETs after the POST answered 503
	training    int            // then GETs answered "training"
	answer      map[string]any // then the answer
	getCode     int            // if set, every GET after the POST answers this code

	mu      sync.Mutex
	posts   int
	gets    int
	batches []BatchRequest
}

func (f *fakeHTTPTrainer) start(t *testing.T) (*httptest.Server, Options) {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv, Options{HTTPClient: srv.Client(), Poll: 2 * time.Millisecond, Timeout: 10 * time.Second}
}

// inMemory returns options whose client calls the trainer's ServeHTTP directly, with
// no socket: for tests in a synctest bubble, where a request then takes no fake time.
func (f *fakeHTTPTrainer) inMemory() Options {
	return Options{HTTPClient: &http.Client{Transport: handlerTransport{f}}, Poll: 2 * time.Millisecond, Timeout: 10 * time.Second}
}

// handlerTransport is an http.RoundTripper that serves each request with h, in the
// caller's goroutine.
type handlerTransport struct{ h http.Handler }

func (ht handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	w := httptest.NewRecorder()
	ht.h.ServeHTTP(w, req)
	return w.Result(), nil
}

func (f *fakeHTTPTrainer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/batches":
		f.posts++
		if len(f.postCodes) > 0 {
			code := f.postCodes[0]
			f.postCodes = f.postCodes[1:]
			if code == http.StatusConflict {
				f.batches = append(f.batches, BatchRequest{}) // it had the batch already
			}
			if code != http.StatusAccepted {
				reply(code, map[string]string{"error": "records: missing advantage"})
				return
			}
		}
		var b BatchRequest
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			f.t.Errorf("trainer: POST body: %v", err)
			reply(http.StatusBadRequest, nil)
			return
		}
		f.batches = append(f.batches, b)
		reply(http.StatusAccepted, map[string]string{"status": StatusTraining})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/batches/"):
		f.gets++
		switch {
		case len(f.batches) == 0 && f.before == nil:
			reply(http.StatusNotFound, map[string]string{"error": "no such batch"})
		case len(f.batches) == 0:
			reply(http.StatusOK, f.before)
		case f.getCode != 0:
			reply(f.getCode, map[string]string{"error": "forbidden"})
		case f.unavailable > 0:
			f.unavailable--
			reply(http.StatusServiceUnavailable, map[string]string{"error": "reloading"})
		case f.training > 0:
			f.training--
			reply(http.StatusOK, map[string]any{"status": StatusTraining})
		default:
			reply(http.StatusOK, f.answer)
		}
	default:
		f.t.Errorf("trainer: unexpected %s %s", r.Method, r.URL)
		reply(http.StatusNotFound, nil)
	}
}

func (f *fakeHTTPTrainer) counts() (posts, gets int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posts, f.gets
}

// The trainer gets the batch by POST, is unavailable once, trains for two polls,
// then serves policy 1: Train returns its stats and the version advances.
func TestHTTPHandshake(t *testing.T) {
	f := &fakeHTTPTrainer{t: t, unavailable: 1, training: 2, answer: map[string]any{"status": StatusServed, "version": 1,
		"model": "policy-1", "stats": map[string]any{"loss": 0.5, "steps": 3, "entropy": 0.9}}}
	srv, opts := f.start(t)
	tr, err := NewHTTP(srv.URL+"/v1/", opts)
	if err != nil {
		t.Fatal(err)
	}
	b := batch(0, 3)
	st, err := tr.Train(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	want := messages.TrainStats{Loss: 0.5, Steps: 3, Entropy: 0.9, Trajectories: 3}
	if st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	if m, ok := tr.Served(1); tr.Version() != 1 || !ok || m != "policy-1" {
		t.Errorf("Version %d, Served(1) = %q %v", tr.Version(), m, ok)
	}
	posts, gets := f.counts()
	if posts != 1 || gets != 5 { // 404 before the POST, then 503, training, training, served
		t.Errorf("posts %d, gets %d; want 1 and 5", posts, gets)
	}
	got := f.batches[0]
	if got.Iteration != 0 || got.PolicyVersion != 0 || got.ExpectVersion != 1 {
		t.Errorf("batch header %+v", got)
	}
	if wr := wantRecords(b); !reflect.DeepEqual(got.Records, wr) {
		t.Errorf("records =\n%+v\nwant\n%+v", got.Records, wr)
	}
	for _, r := range got.Records {
		if err := r.Validate(); err != nil || r.Advantage == nil {
			t.Errorf("record %v, advantage %v", err, r.Advantage)
		}
	}
}

// Restarts: a trainer that already serves the next policy gets nothing; one that is
// training gets nothing and is waited for.
func TestHTTPRestart(t *testing.T) {
	t.Run("served", func(t *testing.T) {
		f := &fakeHTTPTrainer{t: t, before: map[string]any{"status": StatusServed, "version": 3}}
		srv, opts := f.start(t)
		tr, _ := NewHTTP(srv.URL+"/v1", withStart(opts, 2))
		if _, err := tr.Train(t.Context(), batch(2, 1)); err != nil {
			t.Fatal(err)
		}
		if posts, _ := f.counts(); posts != 0 || tr.Version() != 3 {
			t.Errorf("posts %d, version %d", posts, tr.Version())
		}
	})
	t.Run("training", func(t *testing.T) {
		f := &fakeHTTPTrainer{t: t, before: map[string]any{"status": StatusTraining}}
		srv, opts := f.start(t)
		polls := 0
		opts.Sleep = func(ctx context.Context, d time.Duration) error {
			if polls++; polls == 2 {
				f.mu.Lock()
				f.before = map[string]any{"status": StatusServed, "version": 1}
				f.mu.Unlock()
			}
			return nil
		}
		tr, _ := NewHTTP(srv.URL+"/v1", opts)
		if _, err := tr.Train(t.Context(), batch(0, 1)); err != nil {
			t.Fatal(err)
		}
		if posts, gets := f.counts(); posts != 0 || gets != 3 || tr.Version() != 1 {
			t.Errorf("posts %d, gets %d, version %d", posts, gets, tr.Version())
		}
	})
	t.Run("failed before: sent again", func(t *testing.T) {
		f := &fakeHTTPTrainer{t: t, before: map[string]any{"status": StatusFailed, "error": "old"},
			answer: map[string]any{"status": StatusServed, "version": 1}}
		srv, opts := f.start(t)
		tr, _ := NewHTTP(srv.URL+"/v1", opts)
		if _, err := tr.Train(t.Context(), batch(0, 1)); err != nil {
			t.Fatal(err)
		}
		if posts, _ := f.counts(); posts != 1 || tr.Version() != 1 {
			t.Errorf("posts %d, version %d", posts, tr.Version())
		}
	})
}

func withStart(o Options, v int) Options { o.Start = v; return o }

// POST answers: 409 is fine; 503 is retried; 400 is an error at once.
func TestHTTPPostAnswers(t *testing.T) {
	served := map[string]any{"status": StatusServed, "version": 1}
	for _, c := range []struct {
		name  string
		codes []int
		want  string // "" for success
		posts int
	}{
		{"conflict", []int{http.StatusConflict}, "", 1},
		{"unavailable then accepted", []int{http.StatusServiceUnavailable, http.StatusServiceUnavailable}, "", 3},
		{"bad request", []int{http.StatusBadRequest}, "rejected batch 0: POST %s/v1/batches: 400 Bad Request: {\"error\":\"records: missing advantage\"}", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeHTTPTrainer{t: t, postCodes: c.codes, answer: served}
			srv, opts := f.start(t)
			tr, _ := NewHTTP(srv.URL+"/v1", opts)
			_, err := tr.Train(t.Context(), batch(0, 1))
			if c.want == "" {
				if err != nil || tr.Version() != 1 {
					t.Fatalf("err = %v, version %d", err, tr.Version())
				}
			} else if want := fmt.Sprintf(c.want, srv.URL); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v\nwant it to contain %s", err, want)
			}
			if posts, _ := f.counts(); posts != c.posts {
				t.Errorf("posts %d, want %d", posts, c.posts)
			}
		})
	}
}

// Answers that end Train with an error at once, the version unchanged.
func TestHTTPErrors(t *testing.T) {
	for _, c := range []struct {
		name    string
		answer  map[string]any
		getCode int
		want    string
	}{
		{"failed", map[string]any{"status": StatusFailed, "error": "loss is NaN"}, 0,
			"failed to train batch 0 (policy 0 -> 1): loss is NaN"},
		{"wrong version", map[string]any{"status": StatusServed, "version": 5}, 0,
			"reported policy 5 served for batch 0"},
		{"forbidden poll", nil, http.StatusForbidden, "403 Forbidden"},
		{"no status", nil, 0, `no "status" in null`},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeHTTPTrainer{t: t, answer: c.answer, getCode: c.getCode}
			srv, opts := f.start(t)
			tr, _ := NewHTTP(srv.URL+"/v1", opts)
			_, err := tr.Train(t.Context(), batch(0, 1))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), srv.URL) {
				t.Fatalf("err = %v, want one naming the trainer and containing %q", err, c.want)
			}
			if tr.Version() != 0 {
				t.Errorf("Version = %d", tr.Version())
			}
		})
	}
}

// No "served" within the timeout: the error names the status URL and the last status
// seen. It runs in a synctest bubble, the trainer called in memory (real sockets do
// not block durably), so the 100ms are fake time, all spent polling after the batch
// was accepted (none sending it), whatever the speed of the machine.
func TestHTTPTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHTTPTrainer{t: t, training: 1 << 30}
		const base = "http://trainer.test/v1"
		opts := f.inMemory()
		opts.Timeout = 100 * time.Millisecond
		tr, _ := NewHTTP(base, opts)
		start := time.Now()
		_, err := tr.Train(t.Context(), batch(0, 1))
		want := `external trainer at ` + base + ` did not report policy 1 served within 100ms: expected GET ` + base +
			`/batches/0 to say "served" (last: status "training")`
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v\nwant %s", err, want)
		}
		if waited := time.Since(start); waited != 100*time.Millisecond {
			t.Errorf("waited %v of fake time, want 100ms", waited)
		}
		if posts, gets := f.counts(); posts != 1 || gets < 10 {
			t.Errorf("posts %d, gets %d; want 1 and a poll every 2ms", posts, gets)
		}
		if tr.Version() != 0 {
			t.Errorf("Version = %d", tr.Version())
		}
	})
}

// Nobody listens: connection refused is retried until the timeout, then reported.
// The dials are real; the bubble makes the minute fake time (and a socket deadline
// that a refused loopback dial never nears), so however slow the machine, the
// requests are refused, not cut by the deadline.
func TestHTTPConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	synctest.Test(t, func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		tr, _ := NewHTTP("http://"+addr, Options{HTTPClient: client, Poll: 5 * time.Second, Timeout: time.Minute})
		start := time.Now()
		_, err := tr.Train(t.Context(), batch(0, 1))
		if err == nil || !strings.Contains(err.Error(), "did not accept batch 0 within 1m0s") || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("err = %v", err)
		}
		if waited := time.Since(start); waited != time.Minute {
			t.Errorf("waited %v of fake time, want 1m", waited)
		}
	})
}

func TestHTTPCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHTTPTrainer{t: t, training: 1 << 30}
		opts := f.inMemory()
		opts.Poll = time.Hour
		tr, _ := NewHTTP("http://trainer.test/v1", opts)
		trainCancelledMidWait(t, tr)
		if posts, gets := f.counts(); posts != 1 || gets != 1 {
			t.Errorf("posts %d, gets %d; want the look before sending, the batch, then the wait", posts, gets)
		}
	})
}

func TestNewHTTPErrors(t *testing.T) {
	for _, u := range []string{"", "localhost:8000", "ftp://host/x", "http://", "http://[::1"} {
		if _, err := NewHTTP(u, Options{}); err == nil {
			t.Errorf("NewHTTP(%q) succeeded", u)
		}
	}
	tr, err := NewHTTP("https://trainer.example:9000/api/", Options{})
	if err != nil || tr.Where() != "https://trainer.example:9000/api" {
		t.Errorf("NewHTTP = %v, %v", tr, err)
	}
}
