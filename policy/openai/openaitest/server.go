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

// Call is one recorded completion request (/v1/completions, or SGLang's /generate).
type Call struct {
	N       int         // 1-based number of the call, in order of arrival
	Path    string      // the endpoint called
	Prompt  []int32     // the prompt token ids
	Text    string      // the prompt decoded (specials as their strings)
	Request Request     // the decoded JSON body (for /generate: its sampling_params)
	Header  http.Header // the request's headers
	At      time.Time   // when the request arrived

	// Sampler is the sampler the reply is sampled with: the request's fields, the
	// model's defaults for those it left out (Options.Defaults), neutral otherwise.
	Sampler map[string]float64
	// Output is the ids produced, and Sampled their log-probs under Sampler (what the
	// stub sampled with; the answer reports these, or the raw ones, see
	// Options.ProcessedLogprobs). Both are nil until the answer is sent.
	Output  []int32
	Sampled []float64
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
	RepetitionPenalty      *float64 `json:"repetition_penalty"`
	PresencePenalty        *float64 `json:"presence_penalty"`
	FrequencyPenalty       *float64 `json:"frequency_penalty"`
	N                      *int     `json:"n"`
	Logprobs               *int     `json:"logprobs"`
	Seed                   *int64   `json:"seed"`
	StopTokenIDs           []int32  `json:"stop_token_ids"`
	ReturnTokenIDs         bool     `json:"return_token_ids"`
	ReturnTokensAsTokenIDs bool     `json:"return_tokens_as_token_ids"`
	SkipSpecialTokens      *bool    `json:"skip_special_tokens"`
	IncludeStopStrInOutput *bool    `json:"include_stop_str_in_output"`
	MaxNewTokens           *int     `json:"max_new_tokens"` // SGLang's max_tokens
	NoStopTrim             bool     `json:"no_stop_trim"`

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
	// End is the id that ends the reply (0 means ImEnd); the reply stops there when
	// it is a stop id of the request or an EOS id of the model.
	End int32
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

// Server is a stub of a vLLM or SGLang server (see Kind: the subset policy/openai
// uses, as their sources show it) on 127.0.0.1, or in memory.
type Server struct {
	// URL is the base URL, without /v1.
	URL  string
	opts Options

	srv     *httptest.Server // nil for NewInMemory
	mux     http.Handler
	handler Handler
	once    sync.Once
	closing chan struct{} // closed by Close: delayed answers give up

	mu            sync.Mutex
	models        []string
	weightVersion string
	calls         []Call
	tokenizeCalls int
	inFlight      int
	maxInFlight   int
}

// NewServer starts a stub answering completions with h (nil: a fixed command reply).
// It is closed when the test ends.
func NewServer(t testing.TB, h Handler) *Server {
	t.Helper()
	return NewServerWith(t, h, Options{})
}

// NewServerWith is NewServer for a server shaped by o.
func NewServerWith(t testing.TB, h Handler, o Options) *Server {
	t.Helper()
	s := newStub(h, o)
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
	return NewInMemoryWith(t, h, Options{})
}

// NewInMemoryWith is NewInMemory for a server shaped by o.
func NewInMemoryWith(t testing.TB, h Handler, o Options) *Server {
	t.Helper()
	s := newStub(h, o)
	s.URL = InMemoryURL
	t.Cleanup(s.Close)
	return s
}

func newStub(h Handler, o Options) *Server {
	if h == nil {
		h = func(Call) Response { return Chat("```command\necho stub\n```") }
	}
	if o.Kind == "" {
		o.Kind = VLLM
	}
	if o.Version == "" {
		o.Version = map[Kind]string{VLLM: VLLMVersion, SGLang: SGLangVersion}[o.Kind]
	}
	if o.MaxModelLen == 0 {
		o.MaxModelLen = MaxModelLen
	}
	if o.WeightVersion == "" {
		o.WeightVersion = "default"
	}
	s := &Server{handler: h, opts: o, models: []string{DefaultModel}, weightVersion: o.WeightVersion, closing: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tokenize", s.tokenize)
	mux.HandleFunc("POST /detokenize", s.detokenize)
	mux.HandleFunc("GET /v1/models", s.listModels)
	mux.HandleFunc("POST /v1/completions", s.complete)
	switch o.Kind {
	case VLLM:
		mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"version": o.Version})
		})
	case SGLang:
		serverInfo := func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"version": o.Version, "context_length": nil, "model_path": DefaultModel,
				"max_req_input_len": o.MaxModelLen - 6, "max_total_num_tokens": 4 * o.MaxModelLen})
		}
		modelInfo := func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"model_path": DefaultModel, "is_generation": true,
				"weight_version": s.WeightVersion(), "preferred_sampling_params": o.Defaults})
		}
		mux.HandleFunc("GET /server_info", serverInfo)
		mux.HandleFunc("GET /get_server_info", serverInfo) // deprecated alias
		mux.HandleFunc("GET /model_info", modelInfo)
		mux.HandleFunc("GET /get_model_info", modelInfo) // deprecated alias
		mux.HandleFunc("POST /generate", s.complete)
	}
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

// SetWeightVersion sets the weight version an SGLang stub reports, as a trainer's
// /update_weights_from_disk with weight_version does.
func (s *Server) SetWeightVersion(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.weightVersion = v
}

// WeightVersion is the weight version an SGLang stub reports.
func (s *Server) WeightVersion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.weightVersion
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

// refuse answers an error as the server does on path: SGLang's /generate answers
// {"error": {"message": ...}} (entrypoints/http_server.py, _create_error_response).
func (s *Server) refuse(w http.ResponseWriter, path string, status int, msg string) {
	if path == "/generate" {
		writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg}})
		return
	}
	writeError(w, status, msg)
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
		"count": len(ids), "max_model_len": s.opts.MaxModelLen, "tokens": ids, "token_strs": nil,
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
		data[i] = map[string]any{"id": m, "object": "model", "owned_by": string(s.opts.Kind), "max_model_len": s.opts.MaxModelLen}
		if s.opts.Kind == SGLang && i > 0 {
			// SGLang lists loaded LoRA adapters with their parent and no length.
			data[i]["parent"], data[i]["max_model_len"] = s.models[0], nil
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// decodeRequest reads a completion body: the typed fields, every sampling field raw,
// and the prompt (a list of ids or a string). For SGLang's /generate the sampling
// fields are those of sampling_params, the prompt is input_ids (or text) and the
// model is the lora_path, if any.
func decodeRequest(path string, body []byte) (Request, []int32, error) {
	var req Request
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return req, nil, err
	}
	promptField := "prompt"
	fields := body
	if path == "/generate" {
		promptField = "input_ids"
		if _, ok := top["input_ids"]; !ok {
			promptField = "text"
		}
		fields = top["sampling_params"]
		if fields == nil {
			fields = []byte("{}")
		}
	}
	if err := json.Unmarshal(fields, &req); err != nil {
		return req, nil, err
	}
	if err := json.Unmarshal(fields, &req.Fields); err != nil {
		return req, nil, err
	}
	if path == "/generate" {
		req.Model = DefaultModel
		var lora string
		if raw, ok := top["lora_path"]; ok && json.Unmarshal(raw, &lora) == nil && lora != "" {
			req.Model = lora
		}
		req.MaxTokens = req.MaxNewTokens
		if req.MaxTokens == nil {
			n := 128 // SGLang's default max_new_tokens
			req.MaxTokens = &n
		}
		var b bool
		if raw, ok := top["return_logprob"]; ok && json.Unmarshal(raw, &b) == nil && b {
			zero := 0
			req.Logprobs = &zero
		}
	}
	raw := top[promptField]
	var ids []int32
	if err := json.Unmarshal(raw, &ids); err != nil {
		var text string
		if err2 := json.Unmarshal(raw, &text); err2 != nil {
			return req, nil, fmt.Errorf("%s is neither a list of token ids nor a string: %v", promptField, err)
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
	path := r.URL.Path
	req, prompt, err := decodeRequest(path, body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid request: "+err.Error())
		return
	}
	s.mu.Lock()
	c := Call{N: len(s.calls) + 1, Path: path, Prompt: prompt, Text: Decode(prompt), Request: req, Header: r.Header.Clone(), At: time.Now(),
		Sampler: sampler(s.opts.Defaults, req.Fields)}
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	if !s.served(req.Model) {
		notServed(w, req.Model)
		return
	}
	if msg := s.tooLong(len(prompt), req); msg != "" {
		s.refuse(w, path, http.StatusBadRequest, msg)
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
		s.refuse(w, path, status, "stub answered "+strconv.Itoa(status))
		return
	}
	out := s.produce(c, req, prompt, resp)
	s.mu.Lock()
	s.calls[c.N-1].Output, s.calls[c.N-1].Sampled = out.ids, out.sampled
	s.mu.Unlock()
	if path == "/generate" {
		writeJSON(w, http.StatusOK, s.generateAnswer(c, req, prompt, resp, out))
		return
	}
	writeJSON(w, http.StatusOK, s.completion(c, req, prompt, resp, out))
}

// tooLong is the server's refusal of a request longer than the model's context, or "".
// vLLM refuses prompt + max_tokens > max_model_len (vllm/entrypoints/openai/
// serving_engine.py, _validate_input). SGLang refuses prompt >= context_len and
// prompt + max_new_tokens > context_len (python/sglang/srt/managers/
// tokenizer_manager.py, _validate_one_request), then a prompt of max_req_input_len =
// context_len - 6 tokens or more (managers/utils.py, validate_input_length).
func (s *Server) tooLong(prompt int, req Request) string {
	maxTokens := 0
	if req.MaxTokens != nil {
		maxTokens = *req.MaxTokens
	}
	limit := s.opts.MaxModelLen
	if s.opts.Kind == SGLang {
		switch {
		case prompt >= limit:
			return fmt.Sprintf("The input (%d tokens) is longer than the model's context length (%d tokens).", prompt, limit)
		case prompt+maxTokens > limit:
			return fmt.Sprintf("Requested token count exceeds the model's maximum context length of %d tokens. You requested a total of %d tokens: %d tokens from the input messages and %d tokens for the completion. Please reduce the number of tokens in the input messages or the completion to fit within the limit.",
				limit, prompt+maxTokens, prompt, maxTokens)
		case prompt >= limit-6:
			return fmt.Sprintf("Input length (%d tokens) exceeds the maximum allowed length (%d tokens). Use a shorter input or enable --allow-auto-truncate.", prompt, limit-6)
		}
		return ""
	}
	if prompt+maxTokens > limit {
		return fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the messages, %d in the completion). Please reduce the length of the messages or completion.",
			limit, prompt+maxTokens, prompt, maxTokens)
	}
	return ""
}

// output is what the stub produced for a call.
type output struct {
	ids      []int32
	sampled  []float64 // log-probs under the call's sampler
	reported []float64 // the log-probs the answer reports
	finish   string
	matched  int32 // the stop id, when finish is "stop"
	stopID   bool  // the stop id was one of the request's stop ids (not a model EOS)
}

// produce is the reply: the text's ids cut to max_tokens (finish "length"), or
// followed by the end id (finish "stop").
func (s *Server) produce(c Call, req Request, prompt []int32, resp Response) output {
	ids := Encode(resp.Text)
	maxTokens := 16 // the OpenAI default
	if req.MaxTokens != nil {
		maxTokens = *req.MaxTokens
	}
	end := resp.End
	if end == 0 {
		end = ImEnd
	}
	if s.opts.Kind == SGLang {
		// The scheduler cuts max_new_tokens silently to what the context holds
		// (managers/scheduler.py, init_req_max_new_tokens).
		maxTokens = min(maxTokens, s.opts.MaxModelLen-len(prompt)-2)
	}
	o := output{finish: "stop"}
	switch {
	case len(ids) >= maxTokens:
		ids, o.finish = ids[:max(maxTokens, 0)], "length"
	case s.opts.Kind == SGLang && len(ids)+1 == maxTokens:
		// SGLang checks the length before the stop ids (managers/schedule_batch.py,
		// Req.update_finish_state): a stop id as the last allowed token is "length".
		ids, o.finish = append(ids, end), "length"
	default:
		ids = append(ids, end)
		o.matched, o.stopID = end, slices.Contains(req.StopTokenIDs, end)
	}
	if resp.Finish != "" {
		o.finish = resp.Finish
	}
	o.ids = ids
	ctx := slices.Clone(prompt)
	for i, id := range ids {
		raw := TokenLogprob(i)
		lp := SamplingLogprob(i, id, ctx, c.Sampler)
		o.sampled = append(o.sampled, lp)
		switch {
		case s.opts.Kind == SGLang:
			// After penalties and temperature, before the filters
			// (python/sglang/srt/layers/sampler.py).
			o.reported = append(o.reported, lp-filterTerm(c.Sampler))
		case s.opts.ProcessedLogprobs:
			o.reported = append(o.reported, lp)
		default:
			o.reported = append(o.reported, raw)
		}
		ctx = append(ctx, id)
	}
	return o
}

// completion builds a /v1/completions answer. The stop id is left out of the text.
func (s *Server) completion(c Call, req Request, prompt []int32, resp Response, o output) map[string]any {
	ids := o.ids
	skip := req.SkipSpecialTokens == nil || *req.SkipSpecialTokens // both servers default to true
	textIDs := ids
	if o.finish == "stop" && len(ids) > 0 {
		textIDs = ids[:len(ids)-1]
	}
	var stopReason any
	if o.finish == "stop" && o.stopID {
		stopReason = o.matched
	}
	choice := map[string]any{"index": 0, "text": decode(textIDs, skip), "finish_reason": o.finish, "stop_reason": stopReason}
	if resp.NoLogprobs {
		choice["logprobs"] = nil
	} else {
		toks := make([]string, len(ids))
		offsets := make([]int, len(ids))
		var off int
		for i, id := range ids {
			if s.opts.Kind == VLLM && req.ReturnTokensAsTokenIDs {
				toks[i] = fmt.Sprintf("token_id:%d", id)
			} else {
				toks[i] = decode([]int32{id}, false) // SGLang: the token's text, whatever was asked
			}
			offsets[i] = off
			off += len(decode([]int32{id}, true))
		}
		choice["logprobs"] = map[string]any{"text_offset": offsets, "token_logprobs": o.reported, "tokens": toks, "top_logprobs": nil}
	}
	if s.opts.Kind == VLLM && req.ReturnTokenIDs && !resp.NoTokenIDs {
		choice["token_ids"] = ids
		choice["prompt_token_ids"] = prompt
	}
	return map[string]any{
		"id": fmt.Sprintf("cmpl-%d", c.N), "object": "text_completion", "created": c.At.Unix(), "model": req.Model,
		"choices": []any{choice},
		"usage":   map[string]int{"prompt_tokens": len(prompt), "completion_tokens": len(ids), "total_tokens": len(prompt) + len(ids)},
	}
}

// generateAnswer builds an SGLang /generate answer: output_ids hold the stop id (the
// text only with no_stop_trim); the log-probs are one per output id.
func (s *Server) generateAnswer(c Call, req Request, prompt []int32, resp Response, o output) map[string]any {
	ids, lps, textIDs := o.ids, o.reported, o.ids
	if o.finish == "stop" && !req.NoStopTrim {
		textIDs = ids[:len(ids)-1] // managers/detokenizer_manager.py, trim_matched_stop
	}
	skip := req.SkipSpecialTokens == nil || *req.SkipSpecialTokens
	var finish any
	switch o.finish {
	case "stop":
		finish = map[string]any{"type": "stop", "matched": o.matched}
	case "length":
		finish = map[string]any{"type": "length", "length": len(ids)}
	default:
		finish = map[string]any{"type": o.finish}
	}
	meta := map[string]any{
		"id": fmt.Sprintf("gen-%d", c.N), "finish_reason": finish,
		"prompt_tokens": len(prompt), "completion_tokens": len(o.ids), "cached_tokens": 0,
		"weight_version": s.WeightVersion(),
	}
	if req.Logprobs != nil && !resp.NoLogprobs {
		entries := make([][]any, len(ids))
		for i, id := range ids {
			entries[i] = []any{lps[i], id, nil}
		}
		meta["output_token_logprobs"] = entries
	}
	ans := map[string]any{"text": decode(textIDs, skip), "meta_info": meta}
	if !resp.NoTokenIDs {
		ans["output_ids"] = ids
	}
	return ans
}
