package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/actors/actorstest"
	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy/openai"
	"github.com/swerl/swerl/policy/openai/openaitest"
	"github.com/swerl/swerl/records"
	"github.com/swerl/swerl/swe"
)

// The OpenAI-compatible policy against a stub server on 127.0.0.1 that misbehaves in
// the ways real endpoints do. Whatever the server does, every requested episode ends in
// exactly one terminal record, every record reaches the records file, and what the
// server got wrong shows as retries, format errors or abandoned episodes with a cause,
// never as a lost or doubled episode.

const (
	stubTasks = 4
	stubGroup = 3
)

// stubAgent plays a scripted agent from the conversation alone: two exploring commands,
// the fix on even-numbered tasks, then submit.
func stubAgent(c openaitest.Call) string {
	_, turns := openaitest.ParseChat(c.Text)
	done := 0
	for _, t := range turns {
		if t.Role == "assistant" && !t.Open {
			done++
		}
	}
	switch {
	case done < 2:
		return fmt.Sprintf("Looking around.\n```command\nls dir%d\n```\n", done)
	case done == 2 && stubTaskIndex(c)%2 == 0:
		return "Found it.\n```command\nfix bug.py\n```\n"
	default:
		return "Done.\n```command\nsubmit\n```\n"
	}
}

// stubTaskIndex reads the task's number from the issue text of the conversation.
func stubTaskIndex(c openaitest.Call) int {
	i := strings.Index(c.Text, "issue of task-")
	if i < 0 {
		return -1
	}
	var n int
	fmt.Sscanf(c.Text[i+len("issue of task-"):], "%d", &n)
	return n
}

// stubTurn is the number of assistant replies already in the conversation.
func stubTurn(c openaitest.Call) int {
	_, turns := openaitest.ParseChat(c.Text)
	n := 0
	for _, t := range turns {
		if t.Role == "assistant" && !t.Open {
			n++
		}
	}
	return n
}

type stubRun struct {
	res     engine.Result
	err     error
	recs    []records.Record // read back from the records file
	pol     *openai.Policy
	elapsed time.Duration
}

// stubServers are the servers the endpoint tests run against: the stub's faithful
// modes, vLLM with Qwen2.5-Instruct's generation config (sampling defaults and a
// second EOS id) and SGLang.
var stubServers = []struct {
	name string
	opts openaitest.Options
}{
	{"vllm", openaitest.Options{Kind: openaitest.VLLM, Defaults: openaitest.QwenDefaults, EOS: openaitest.QwenEOS}},
	{"sglang", openaitest.Options{Kind: openaitest.SGLang, Defaults: openaitest.QwenDefaults, EOS: openaitest.QwenEOS}},
}

// inEachServer runs test against each of stubServers.
func inEachServer(t *testing.T, test func(*testing.T, openaitest.Options)) {
	for _, s := range stubServers {
		t.Run(s.name, func(t *testing.T) { test(t, s.opts) })
	}
}

func runAgainstStub(t *testing.T, o openaitest.Options, h openaitest.Handler, tweak func(*openai.Config), onServer func(*openaitest.Server)) stubRun {
	t.Helper()
	return runStub(t, openaitest.NewServerWith(t, h, o), tweak, onServer)
}

// runAgainstStubInBubble is runAgainstStub in a testing/synctest bubble, with the stub
// in memory: every timeout, delay, Retry-After and backoff is fake time, so tests
// about time get the same verdict on a fast machine and a loaded one, and the
// elapsed time they check is exact.
func runAgainstStubInBubble(t *testing.T, o openaitest.Options, h openaitest.Handler, tweak func(*openai.Config), onServer func(*openaitest.Server)) stubRun {
	t.Helper()
	var r stubRun
	synctest.Test(t, func(t *testing.T) {
		r = runStub(t, openaitest.NewInMemoryWith(t, h, o), tweak, onServer)
		time.Sleep(time.Second) // Proto.Actor's dead-letter throttle
	})
	return r
}

func runStub(t *testing.T, srv *openaitest.Server, tweak func(*openai.Config), onServer func(*openaitest.Server)) stubRun {
	t.Helper()
	if onServer != nil {
		onServer(srv)
	}
	pc := openai.Config{Endpoint: srv.URL, HTTPClient: srv.Client(), Model: openaitest.DefaultModel, RequestTimeout: 2 * time.Second,
		MaxRetries: 3, BackoffBase: 5 * time.Millisecond, BackoffMax: 100 * time.Millisecond, Seed: 7}
	if tweak != nil {
		tweak(&pc)
	}
	pol, err := openai.New(pc)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w, err := records.NewWriter(dir, records.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.DefaultConfig()
	cfg.Iterations, cfg.TasksPerIteration, cfg.GroupSize = 1, stubTasks, stubGroup
	for i := range stubTasks {
		cfg.Tasks = append(cfg.Tasks, messages.TaskRef{ID: fmt.Sprintf("task-%03d", i),
			Statement: fmt.Sprintf("The issue of task-%03d: the bug.", i)})
	}
	cfg.Policy, cfg.Trainer = pol, actorstest.NewFakeTrainer(0)
	cfg.Sandboxes, cfg.Grader = &actorstest.FakeSandboxes{}, &actorstest.FakeGrader{}
	cfg.Episode.TurnCap = 8
	cfg.Episode.RetryBudget = 2
	cfg.Episode.Backoff = actors.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, Jitter: 0.2}
	cfg.Logger = actorstest.TestLogger(t, hclog.Warn)
	cfg.OnRecord = func(r messages.EpisodeRecord) { w.Write(records.FromEpisode(r, false)) }
	begin := time.Now()
	res, runErr := engine.Run(context.Background(), cfg)
	elapsed := time.Since(begin)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := records.ReadJSONL(filepath.Join(dir, "records.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return stubRun{res: res, err: runErr, recs: recs, pol: pol, elapsed: elapsed}
}

// checkNothingLost asserts the engine's rule: one terminal record per requested
// episode, in the run's result and in the records file, each record well formed.
func checkNothingLost(t *testing.T, r stubRun) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("run: %v", r.err)
	}
	want := stubTasks * stubGroup
	all := r.res.Records()
	if len(all) != want {
		t.Fatalf("%d terminal records, want %d", len(all), want)
	}
	seen := map[messages.EpisodeKey]bool{}
	for _, rec := range all {
		if seen[rec.Ref.Key()] {
			t.Fatalf("%s recorded twice", rec.Ref)
		}
		seen[rec.Ref.Key()] = true
		if rec.Status == messages.Abandoned && (rec.Failure.Kind == "" || rec.Failure.Cause == "") {
			t.Fatalf("%s abandoned without a cause: %+v", rec.Ref, rec.Failure)
		}
		if rec.Status == messages.Abandoned && rec.Reward != 0 {
			t.Fatalf("%s: an infrastructure failure got reward %v", rec.Ref, rec.Reward)
		}
	}
	if len(r.recs) != want {
		t.Fatalf("records file holds %d records, want %d", len(r.recs), want)
	}
	onDisk := map[string]bool{}
	for _, rec := range r.recs {
		if err := rec.Validate(); err != nil {
			t.Fatalf("record %s/g%d/s%d: %v", rec.TaskID, rec.Group, rec.Sample, err)
		}
		onDisk[fmt.Sprintf("%d/%d/%d", rec.Iteration, rec.Group, rec.Sample)] = true
	}
	if len(onDisk) != want {
		t.Fatalf("records file holds %d distinct episodes, want %d", len(onDisk), want)
	}
}

func count(recs []messages.EpisodeRecord, f func(messages.EpisodeRecord) bool) int {
	n := 0
	for _, r := range recs {
		if f(r) {
			n++
		}
	}
	return n
}

func finished(r messages.EpisodeRecord) bool { return r.Status == messages.Finished }

// everyNth wraps a handler: calls whose number is a multiple of n get fault instead.
func everyNth(n int, fault openaitest.Response) openaitest.Handler {
	return func(c openaitest.Call) openaitest.Response {
		if c.N%n == 0 {
			return fault
		}
		return openaitest.Response{Text: stubAgent(c)}
	}
}

func TestEndpointHealthy(t *testing.T) { inEachServer(t, testEndpointHealthy) }

func testEndpointHealthy(t *testing.T, o openaitest.Options) {
	r := runAgainstStub(t, o, func(c openaitest.Call) openaitest.Response { return openaitest.Response{Text: stubAgent(c)} }, nil, nil)
	checkNothingLost(t, r)
	all := r.res.Records()
	if n := count(all, finished); n != len(all) {
		t.Fatalf("%d of %d finished", n, len(all))
	}
	if n := count(all, func(r messages.EpisodeRecord) bool { return r.Resolved }); n != stubGroup*stubTasks/2 {
		t.Fatalf("%d resolved, want the %d samples of even tasks", n, stubGroup*stubTasks/2)
	}
	for _, rec := range r.recs {
		if rec.NumTurns == 0 || len(rec.TokenIDs) == 0 {
			t.Fatalf("record without turns or tokens: %+v", rec)
		}
	}
}

func TestEndpointMalformedReplies(t *testing.T) { inEachServer(t, testEndpointMalformedReplies) }

func testEndpointMalformedReplies(t *testing.T, o openaitest.Options) {
	// Turn 1 of every conversation is garbage of one kind per task: two command
	// blocks, no block, binary noise. That is the model's output: a format error turn,
	// not an infrastructure failure.
	bad := []string{
		"Two at once.\n```command\nls\n```\n```command\npwd\n```\n",
		"I will just think about it.",
		"\x00\xff\xfe```com\x01mand",
	}
	h := func(c openaitest.Call) openaitest.Response {
		if stubTurn(c) == 1 {
			return openaitest.Response{Text: bad[stubTaskIndex(c)%len(bad)]}
		}
		return openaitest.Response{Text: stubAgent(c)}
	}
	r := runAgainstStub(t, o, h, nil, nil)
	checkNothingLost(t, r)
	all := r.res.Records()
	if n := count(all, finished); n != len(all) {
		t.Fatalf("%d of %d finished", n, len(all))
	}
	s := engine.Summarize(all, stubGroup)
	if s.FormatErrors != len(all) {
		t.Fatalf("%d format errors, want one per episode (%d)", s.FormatErrors, len(all))
	}
	for _, rec := range r.recs {
		if rec.Turns[1].FormatError == "" || rec.Turns[1].Command != "" {
			t.Fatalf("turn 1 of %s/s%d: %+v, want a format error", rec.TaskID, rec.Sample, rec.Turns[1])
		}
	}
}

func TestEndpointMissingLogprobs(t *testing.T) { inEachServer(t, testEndpointMissingLogprobs) }

func testEndpointMissingLogprobs(t *testing.T, o openaitest.Options) {
	// A server that returns no log-probs (for task 0) cannot feed RL: those episodes
	// are abandoned with a cause that says so, the others finish.
	h := func(c openaitest.Call) openaitest.Response {
		return openaitest.Response{Text: stubAgent(c), NoLogprobs: stubTaskIndex(c) == 0}
	}
	r := runAgainstStub(t, o, h, nil, nil)
	checkNothingLost(t, r)
	for _, rec := range r.res.Records() {
		task0 := rec.Task.ID == "task-000"
		if task0 != (rec.Status == messages.Abandoned) {
			t.Fatalf("%s: status %s", rec.Ref, rec.Status)
		}
		if task0 && (rec.Failure.Kind != messages.FailGenerate || rec.Failure.Retryable || !strings.Contains(rec.Failure.Cause, "log")) {
			t.Fatalf("%s: failure %+v, want a fatal generate failure about log-probs", rec.Ref, rec.Failure)
		}
	}
}

func TestEndpointServerErrorsAreRetried(t *testing.T) {
	inEachServer(t, testEndpointServerErrorsAreRetried)
}

func testEndpointServerErrorsAreRetried(t *testing.T, o openaitest.Options) {
	r := runAgainstStub(t, o, everyNth(3, openaitest.Response{Status: http.StatusInternalServerError, Body: "upstream crashed"}), nil, nil)
	checkNothingLost(t, r)
	if n := count(r.res.Records(), finished); n != stubTasks*stubGroup {
		t.Fatalf("%d finished, want all: a 500 is retried", n)
	}
	if st := r.pol.Stats(); st.Retries == 0 {
		t.Fatalf("no retries recorded: %+v", st)
	}
}

func TestEndpointRateLimitHonoursRetryAfter(t *testing.T) {
	inEachServer(t, testEndpointRateLimitHonoursRetryAfter)
}

func testEndpointRateLimitHonoursRetryAfter(t *testing.T, o openaitest.Options) {
	h := everyNth(5, openaitest.Response{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}}})
	r := runAgainstStubInBubble(t, o, h, func(c *openai.Config) { c.BackoffMax = 5 * time.Second }, nil)
	checkNothingLost(t, r)
	if n := count(r.res.Records(), finished); n != stubTasks*stubGroup {
		t.Fatalf("%d finished, want all: a 429 is retried", n)
	}
	if r.elapsed < time.Second {
		t.Fatalf("run took %s: Retry-After: 1 was not honoured", r.elapsed)
	}
}

func TestEndpointSlowRepliesTimeOut(t *testing.T) { inEachServer(t, testEndpointSlowRepliesTimeOut) }

func testEndpointSlowRepliesTimeOut(t *testing.T, o openaitest.Options) {
	h := everyNth(4, openaitest.Response{Text: "too late", Delay: 5 * time.Second})
	r := runAgainstStubInBubble(t, o, h, func(c *openai.Config) { c.RequestTimeout = 200 * time.Millisecond }, nil)
	checkNothingLost(t, r)
	if n := count(r.res.Records(), finished); n != stubTasks*stubGroup {
		t.Fatalf("%d finished, want all: a timed-out request is retried", n)
	}
	if r.elapsed > 30*time.Second {
		t.Fatalf("run took %s: slow replies were waited for", r.elapsed)
	}
}

func TestEndpointClosedConnectionsAreRetried(t *testing.T) {
	inEachServer(t, testEndpointClosedConnectionsAreRetried)
}

func testEndpointClosedConnectionsAreRetried(t *testing.T, o openaitest.Options) {
	r := runAgainstStub(t, o, everyNth(3, openaitest.Response{CloseConn: true}), nil, nil)
	checkNothingLost(t, r)
	if n := count(r.res.Records(), finished); n != stubTasks*stubGroup {
		t.Fatalf("%d finished, want all: a dropped connection is retried", n)
	}
}

func TestEndpointDisappearsMidIteration(t *testing.T) {
	inEachServer(t, testEndpointDisappearsMidIteration)
}

func testEndpointDisappearsMidIteration(t *testing.T, o openaitest.Options) {
	// After 15 completions the server is gone for good: episodes in flight use up their
	// retries and are abandoned (generate), nothing hangs, nothing is lost.
	var srv *openaitest.Server
	var once sync.Once
	var calls atomic.Int64
	h := func(c openaitest.Call) openaitest.Response {
		if calls.Add(1) == 15 {
			once.Do(func() { go srv.Close() })
		}
		return openaitest.Response{Text: stubAgent(c)}
	}
	r := runAgainstStubInBubble(t, o, h, nil, func(s *openaitest.Server) { srv = s })
	// The barrier cannot have the next policy served by a server that is gone: the run
	// fails there, with every record of the iteration kept.
	if r.err == nil || !strings.Contains(r.err.Error(), "could not load policy version 1") {
		t.Fatalf("run error %v, want the barrier's load failure", r.err)
	}
	r.err = nil
	checkNothingLost(t, r)
	all := r.res.Records()
	ab := count(all, func(r messages.EpisodeRecord) bool {
		return r.Status == messages.Abandoned && r.Failure.Kind == messages.FailGenerate
	})
	if ab == 0 {
		t.Fatal("no episode abandoned after the server went away")
	}
	if ab+count(all, finished) != len(all) {
		t.Fatalf("abandoned for other reasons than the endpoint: %+v", r.res.Iterations[0].AbandonedBy)
	}
	if r.elapsed > 60*time.Second {
		t.Fatalf("run took %s after the server disappeared", r.elapsed)
	}
}

func TestEndpointContextOverflow(t *testing.T) { inEachServer(t, testEndpointContextOverflow) }

func testEndpointContextOverflow(t *testing.T, o openaitest.Options) {
	// A budget a little over the opening prompt: every episode overflows after a turn
	// or two, is graded, and keeps its tokens up to the budget; none is truncated
	// silently or lost.
	opening := len(openaitest.Encode(swe.SystemPrompt)) + len(openaitest.Encode(swe.FirstMessage(messages.TaskRef{Statement: "The issue of task-000: the bug."})))
	budget := opening + 120
	r := runAgainstStub(t, o, func(c openaitest.Call) openaitest.Response { return openaitest.Response{Text: stubAgent(c)} },
		func(c *openai.Config) { c.ContextBudget = budget }, nil)
	checkNothingLost(t, r)
	all := r.res.Records()
	if n := count(all, func(r messages.EpisodeRecord) bool {
		return r.Status == messages.Finished && r.Stop == messages.StopContextOverflow
	}); n != len(all) {
		t.Fatalf("%d of %d episodes stopped by context overflow", n, len(all))
	}
	for _, rec := range r.recs {
		if len(rec.TokenIDs) > budget {
			t.Fatalf("%s/s%d: %d context tokens, over the budget of %d", rec.TaskID, rec.Sample, len(rec.TokenIDs), budget)
		}
		if rec.NumTurns == 0 {
			t.Fatalf("%s/s%d: no turn kept", rec.TaskID, rec.Sample)
		}
	}
}
