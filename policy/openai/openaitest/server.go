package openaitest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// DefaultModel is the model a new Server lists.
const DefaultModel = "stub-model"

// MaxModelLen is the context length /tokenize reports.
const MaxModelLen = 1 << 20

// Handler answers one /v1/completions call. It may be called concurrently.
type Handler func(c Call) Response

// Call is one recorded /v1/completions request.
type Call struct {
	N       int         // 1-based number of the call, in order of arrival
	Prompt  []int32     // the prompt token ids
	Text    string      // the prompt decoded (specials as their strings)
	Request Request     // the decoded JSON body
	Header  http.Header // the request's headers
	At      time.Time   // when the request arrived
}

// Request is the JSON body of a completion request as the stub decodes it. Pointer
// fields are nil when the field was not sent; Fields holds every field as sent.
type Request struct {
	Model                  string   `json:"model"`
	MaxTokens              *int     `json:"max_tokens"`
	Temperature            *float64 `json:"temperature"`
	TopP                   *float64 `json:"top_p"`
	TopK                   *int     `json:"top_k"`
	MinP                   *float64 `json:"min_p"`
	N                      *int     `json:"n"`
	Logprobs               *int     `json:"logprobs"`
	Seed                   *int64   `json:"seed"`
	StopTokenIDs           []int32  `json:"stop_token_ids"`
	ReturnTokenIDs         bool     `json:"return_token_ids"`
	ReturnTokensAsTokenIDs bool     `json:"return_tokens_as_token_ids"`
	SkipSpecialTokens      *bool    `json:"skip_special_tokens"`
	IncludeStopStrInOutput *bool    `json:"include_stop_str_in_output"`

	Fields map[string]json.RawMessage `json:"-"`
}

// Response is what the stub does with one completion call. The zero value answers
// 200 with an empty reply (just the end-of-turn token).
type Response struct {
	Text       string        // the reply's text, encoded with Encode
	Status     int           // HTTP status; 0 means 200
	Header     http.Header   // extra response headers (e.g. Retry-After)
	Body       string        // raw body, replacing the normal answer (malformed JSON)
	Delay      time.Duration // wait before answering; ends early if the client goes away
	CloseConn  bool          // close the connection without answering
	NoLogprobs bool          // answer "logprobs": null
	NoTokenIDs bool          // leave out choices[0].token_ids (ids only in logprobs.tokens)
	Finish     string        // finish_reason override
}

// Chat is a normal reply with text.
func Chat(text string) Response { return Response{Text: text} }

// Script answers the n-th call with responses[n-1], and every later call with the last
// response.
func Script(responses ...Response) Handler {
	if len(responses) == 0 {
		panic("openaitest.Script: no responses")
	}
	return func(c Call) Response {
		return responses[min(c.N, len(responses))-1]
	}
}

// TokenLogprob is the log-prob the stub reports for the i-th produced token (0-based).
func TokenLogprob(i int) float64 { return -0.01*float64(i%7) - 0.001 }

// Server is an OpenAI-compatible stub (the subset of vLLM that policy/openai uses) on
// 127.0.0.1, or in memory: /tokenize, /detokenize, /v1/models and /v1/completions.
type Server struct {
	// URL is the base URL, without /v1.
	URL string

	srv     *httptest.Server // nil for NewInMemory
	mux     http.Handler
	handler Handler
	once    sync.Once
	closing chan struct{} // closed by Close: delayed answers give up

	mu            sync.Mutex
	models        []string
	calls         []Call
	tokenizeCalls int
	inFlight      int
	maxInFlight   int
}

// NewServer starts a stub answering completions with h (nil: a fixed command reply).
// It is closed when the test ends.
func NewServer(t testing.TB, h Handler) *Server {
	t.Helper()
	s := newStub(h)
	s.srv = httptest.NewServer(s.mux)
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// InMemoryURL is the URL of a stub from NewInMemory; only its Client reaches it.
const InMemoryURL = "http://openaitest.invalid"

// NewInMemory returns a stub like NewServer's, without a socket: its URL is
// InMemoryURL, and Client calls the handlers in the requesting goroutine. Unlike a
// real socket, it works inside a testing/synctest bubble (create it there): a request
// takes no fake time, and a Response.Delay is fake time, cut when the request's
// context ends. It is closed when the test ends.
func NewInMemory(t testing.TB, h Handler) *Server {
	t.Helper()
	s := newStub(h)
	s.URL = InMemoryURL
	t.Cleanup(s.Close)
	return s
}

func newStub(h Handler) *Server {
	if h == nil {
		h = func(Call) Response { return Chat("```command\necho stub\n```") }
	}
	s := &Server{handler: h, models: []string{DefaultModel}, closing: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tokenize", s.tokenize)
	mux.HandleFunc("POST /detokenize", s.detokenize)
	mux.HandleFunc("GET /v1/models", s.listModels)
	mux.HandleFunc("POST /v1/completions", s.complete)
	s.mux = s.count(mux)
	return s
}

// Client returns an HTTP client that reaches the stub: the test server's client, or
// for NewInMemory one whose transport calls the handlers directly.
func (s *Server) Client() *http.Client {
	if s.srv != nil {
		return s.srv.Client()
	}
	return &http.Client{Transport: inMemory{s}}
}

// Close makes the server disappear: requests in progress are cut without an answer,
// and later connections are refused. It may be called more than once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		if s.srv == nil {
			return
		}
		_ = s.srv.Listener.Close() // no new connections from here on
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// inMemory is the transport of an in-memory stub.
type inMemory struct{ s *Server }

// errCut is what a request to an in-memory stub gets when the stub cuts the connection.
var errCut = errors.New("openaitest: connection closed without an answer")

func (m inMemory) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	select {
	case <-m.s.closing:
		return nil, errors.New("openaitest: connection refused: the in-memory stub is closed")
	default:
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sr := req.Clone(ctx) // the handlers see a request of their own, as a server's
	sr.RequestURI = req.URL.RequestURI()
	sr.RemoteAddr = "192.0.2.1:1234"
	if sr.Body == nil {
		sr.Body = http.NoBody
	}
	w := httptest.NewRecorder()
	defer func() {
		if r := recover(); r != nil {
			if r != http.ErrAbortHandler {
				panic(r)
			}
			resp, err = nil, errCut
		}
	}()
	m.s.mux.ServeHTTP(w, sr)
	if err := ctx.Err(); err != nil {
		return nil, err // the client gave up before the answer
	}
	resp = w.Result()
	resp.Request = req
	return resp, nil
}

// SetModels replaces the list of served models.
func (s *Server) SetModels(names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.models = slices.Clone(names)
}

// Calls returns the completion calls received so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// TokenizeCalls is the number of /tokenize requests received.
func (s *Server) TokenizeCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenizeCalls
}

// MaxInFlight is the largest number of requests (any endpoint) handled at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

func (s *Server) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.inFlight++
		s.maxInFlight = max(s.maxInFlight, s.inFlight)
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.inFlight--
			s.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
}

func (s *Server) served(model string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.models, model)
}

// writeError answers like vLLM's error responses.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{
		"object": "error", "message": msg, "type": http.StatusText(status), "param": nil, "code": status,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func notServed(w http.ResponseWriter, model string) {
	writeError(w, http.StatusNotFound, fmt.Sprintf("The model `%s` does not exist.", model))
}

func (s *Server) tokenize(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenizeCalls++
	s.mu.Unlock()
	var req struct {
		Model            string `json:"model"`
		Prompt           string `json:"prompt"`
		AddSpecialTokens *bool  `json:"add_special_tokens"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return
	}
	if !s.served(req.Model) {
		notServed(w, req.Model)
		return
	}
	ids := Encode(req.Prompt)
	writeJSON(w, http.StatusOK, map[string]any{
		"count": len(ids), "max_model_len": MaxModelLen, "tokens": ids, "token_strs": nil,
	})
}

func (s *Server) detokenize(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model  string  `json:"model"`
		Tokens []int32 `json:"tokens"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return
	}
	if !s.served(req.Model) {
		notServed(w, req.Model)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"prompt": Decode(req.Tokens)})
}

func (s *Server) listModels(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	data := make([]map[string]any, len(s.models))
	for i, m := range s.models {
		data[i] = map[string]any{"id": m, "object": "model", "owned_by": "openaitest", "max_model_len": MaxModelLen}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// decodeRequest reads a completion body: the typed fields, every field raw, and the
// prompt (a list of ids or a string).
func decodeRequest(body []byte) (Request, []int32, error) {
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		return req, nil, err
	}
	if err := json.Unmarshal(body, &req.Fields); err != nil {
		return req, nil, err
	}
	raw := req.Fields["prompt"]
	var ids []int32
	if err := json.Unmarshal(raw, &ids); err != nil {
		var text string
		if err2 := json.Unmarshal(raw, &text); err2 != nil {
			return req, nil, fmt.Errorf("prompt is neither a list of token ids nor a string: %v", err)
		}
		ids = Encode(text)
	}
	return req, ids, nil
}

func (s *Server) complete(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	req, prompt, err := decodeRequest(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid request: "+err.Error())
		return
	}
	s.mu.Lock()
	c := Call{N: len(s.calls) + 1, Prompt: prompt, Text: Decode(prompt), Request: req, Header: r.Header.Clone(), At: time.Now()}
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	if !s.served(req.Model) {
		notServed(w, req.Model)
		return
	}
	resp := s.handler(c)

	if resp.Delay > 0 {
		t := time.NewTimer(resp.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.closing:
			t.Stop()
			panic(http.ErrAbortHandler) // cut the connection
		}
	}
	if resp.CloseConn {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // closes the connection without a response
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	if resp.Body != "" {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, resp.Body)
		return
	}
	if status != http.StatusOK {
		writeError(w, status, "stub answered "+strconv.Itoa(status))
		return
	}
	writeJSON(w, http.StatusOK, completion(c, req, prompt, resp))
}

// completion builds a vLLM-like answer: the text's ids cut to max_tokens (finish
// "length"), or followed by the end-of-turn id (finish "stop", left out of the text).
func completion(c Call, req Request, prompt []int32, resp Response) map[string]any {
	ids := Encode(resp.Text)
	maxTokens := 16 // the OpenAI default
	if req.MaxTokens != nil {
		maxTokens = *req.MaxTokens
	}
	finish := "stop"
	var stopReason any
	if len(ids) >= maxTokens {
		ids, finish = ids[:max(maxTokens, 0)], "length"
	} else {
		ids = append(ids, ImEnd)
		stopReason = ImEnd
	}
	if resp.Finish != "" {
		finish = resp.Finish
	}
	text := decode(ids, req.SkipSpecialTokens == nil || *req.SkipSpecialTokens)
	choice := map[string]any{"index": 0, "text": text, "finish_reason": finish, "stop_reason": stopReason}
	if resp.NoLogprobs {
		choice["logprobs"] = nil
	} else {
		lps := make([]float64, len(ids))
		toks := make([]string, len(ids))
		offsets := make([]int, len(ids))
		var off int
		for i, id := range ids {
			lps[i] = TokenLogprob(i)
			toks[i] = fmt.Sprintf("token_id:%d", id)
			offsets[i] = off
			off += len(decode([]int32{id}, true))
		}
		choice["logprobs"] = map[string]any{"text_offset": offsets, "token_logprobs": lps, "tokens": toks, "top_logprobs": nil}
	}
	if req.ReturnTokenIDs && !resp.NoTokenIDs {
		choice["token_ids"] = ids
		choice["prompt_token_ids"] = prompt
	}
	return map[string]any{
		"id": fmt.Sprintf("cmpl-%d", c.N), "object": "text_completion", "created": c.At.Unix(), "model": req.Model,
		"choices": []any{choice},
		"usage":   map[string]int{"prompt_tokens": len(prompt), "completion_tokens": len(ids), "total_tokens": len(prompt) + len(ids)},
	}
}
