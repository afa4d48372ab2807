package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/observe"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestServer(max int) (*Server, *clock) {
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	return New(Options{MaxTrajectories: max, Now: c.now}), c
}

func ref(it, g, s int) messages.EpisodeRef {
	return messages.EpisodeRef{Iteration: it, Group: g, Sample: s, TaskID: fmt.Sprintf("task-%d", g)}
}

func record(r messages.EpisodeRef, stop messages.StopReason, resolved bool, turns int) messages.EpisodeRecord {
	var tr messages.Transcript
	for i := 0; i < turns; i++ {
		tr = tr.Append(messages.NewTurn(messages.Turn{Index: i, Assistant: fmt.Sprintf("thinking %d", i), Command: "ls",
			Observation: "file.go", ExitCode: i, GenerateTime: time.Second}, make([]int32, 7), nil))
	}
	return messages.EpisodeRecord{Ref: r, Task: messages.TaskRef{ID: r.TaskID, Statement: "fix it"}, Status: messages.Finished,
		Stop: stop, Resolved: resolved, Transcript: tr, Attempts: 1}
}

func getJSON(t *testing.T, h http.Handler, url string, wantCode int, v any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
	if rec.Code != wantCode {
		t.Fatalf("GET %s: status %d, want %d: %s", url, rec.Code, wantCode, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: Content-Type %q", url, ct)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, rec.Body.String())
	}
}

// Before the first run the state is empty but complete: no nulls for the page to trip on.
func TestStateBeforeAnyRun(t *testing.T) {
	s, _ := newTestServer(0)
	var raw map[string]any
	getJSON(t, s, "/api/state", 200, &raw)
	if raw["run"] != nil {
		t.Errorf("run before any run: %v", raw["run"])
	}
	for _, k := range []string{"episodes", "phases", "stops", "stragglers", "iterations", "evals"} {
		if raw[k] == nil {
			t.Errorf("%s is null before the first run; the page wants an empty list or map", k)
		}
	}
}

func TestEventsBecomeGridStopsAndStragglers(t *testing.T) {
	s, c := newTestServer(0)
	s.RunStarted(observe.Run{Stage: "stage1", Iterations: 2, EpisodesPerIteration: 4})
	s.Observe(actors.Event{Kind: actors.EventIterationStarted, Ref: messages.EpisodeRef{Iteration: 0}, Episodes: 4})
	s.Observe(actors.Event{Kind: actors.EventPhase, Ref: ref(0, 0, 0), Attempt: 1, Phase: actors.PhaseStarting})
	c.add(time.Second)
	s.Observe(actors.Event{Kind: actors.EventPhase, Ref: ref(0, 0, 1), Attempt: 1, Phase: actors.PhaseStarting})
	s.Observe(actors.Event{Kind: actors.EventPhase, Ref: ref(0, 1, 0), Attempt: 2, Phase: actors.PhaseExecuting})
	s.Observe(actors.Event{Kind: actors.EventTurn, Ref: ref(0, 1, 0), Attempt: 2, Turn: 3, Tokens: 40})
	s.Observe(actors.Event{Kind: actors.EventPhase, Ref: ref(0, 0, 0), Attempt: 1, Phase: actors.PhaseGenerating})
	s.Observe(actors.Event{Kind: actors.EventRetry, Ref: ref(0, 0, 0)}) // not the page's business
	c.add(time.Second)
	s.Record("stage1", record(ref(0, 0, 1), messages.StopSubmit, true, 2))

	st := s.Snapshot()
	if st.Run == nil || st.Run.Stage != "stage1" || st.Run.Number != 1 || st.Expected != 4 {
		t.Fatalf("run: %+v, expected %d", st.Run, st.Expected)
	}
	if len(st.Episodes) != 3 {
		t.Fatalf("episodes: %+v", st.Episodes)
	}
	want := []struct {
		key, phase string
		turns      int
		finished   bool
	}{{"r1/k0/g0/s0", "generating", 0, false}, {"r1/k0/g0/s1", "done", 2, true}, {"r1/k0/g1/s0", "executing", 3, false}}
	for i, w := range want {
		e := st.Episodes[i]
		if e.Key != w.key || e.Phase != w.phase || e.Turns != w.turns || e.Finished != w.finished {
			t.Errorf("episode %d: %+v, want %+v", i, e, w)
		}
	}
	if e := st.Episodes[1]; e.Stop != "submit" || !e.Resolved || e.Elapsed != 1 {
		t.Errorf("finished cell: %+v (elapsed 1 s: from its first event to its record)", e)
	}
	if e := st.Episodes[2]; e.Attempt != 2 || e.Tokens != 40 {
		t.Errorf("attempt/tokens: %+v", e)
	}
	if st.Phases["generating"] != 1 || st.Phases["executing"] != 1 || st.Phases["done"] != 1 {
		t.Errorf("phases: %v", st.Phases)
	}
	if st.Stops["submit"] != 1 || len(st.Stops) != 1 {
		t.Errorf("stops: %v", st.Stops)
	}
	if len(st.Stragglers) != 2 || st.Stragglers[0].Key != "r1/k0/g0/s0" || st.Stragglers[0].Elapsed != 2 {
		t.Errorf("stragglers (longest-running first): %+v", st.Stragglers)
	}

	// The next iteration starts with a fresh grid; late events of the old one are ignored.
	s.Observe(actors.Event{Kind: actors.EventIterationStarted, Ref: messages.EpisodeRef{Iteration: 1}, Episodes: 4})
	s.Observe(actors.Event{Kind: actors.EventPhase, Ref: ref(0, 0, 0), Phase: actors.PhaseGrading})
	s.Observe(actors.Event{Kind: actors.EventPhase, Ref: ref(1, 0, 0), Phase: actors.PhaseStarting})
	st = s.Snapshot()
	if st.Iteration != 1 || len(st.Episodes) != 1 || st.Episodes[0].Key != "r1/k1/g0/s0" {
		t.Errorf("after iteration 1 started: iteration %d, %+v", st.Iteration, st.Episodes)
	}

	// A new run resets the counts by stop reason and numbers its keys anew.
	s.RunEnded("stage1", errors.New("boom"))
	if st := s.Snapshot(); !st.Run.Ended || st.Run.Err != "boom" {
		t.Errorf("ended run: %+v", st.Run)
	}
	s.RunStarted(observe.Run{Stage: "eval", Iterations: 1, EpisodesPerIteration: 2})
	st = s.Snapshot()
	if st.Run.Number != 2 || len(st.Stops) != 0 || len(st.Episodes) != 0 || st.Run.Ended {
		t.Errorf("second run: %+v stops %v episodes %v", st.Run, st.Stops, st.Episodes)
	}
}

func TestEpisodeEndpoint(t *testing.T) {
	s, _ := newTestServer(0)
	s.RunStarted(observe.Run{Stage: "eval", Iterations: 1, EpisodesPerIteration: 1})
	s.Record("eval", record(ref(0, 2, 1), messages.StopTurnCap, false, 3))

	var tr Trajectory
	getJSON(t, s, "/api/episode?key=r1/k0/g2/s1", 200, &tr)
	if tr.Stage != "eval" || tr.Stop != "turn_cap" || tr.Statement != "fix it" || len(tr.Turns) != 3 {
		t.Fatalf("trajectory: %+v", tr)
	}
	if u := tr.Turns[2]; u.Index != 2 || u.Assistant != "thinking 2" || u.Command != "ls" || u.Observation != "file.go" ||
		u.ExitCode != 2 || u.Tokens != 7 || u.GenerateS != 1 {
		t.Errorf("turn 2: %+v", u)
	}

	var e map[string]string
	getJSON(t, s, "/api/episode?key=r1/k0/g9/s9", 404, &e)
	if !strings.Contains(e["error"], "r1/k0/g9/s9") || !strings.Contains(e["error"], "finished cell") {
		t.Errorf("unknown key: %q", e["error"])
	}
	getJSON(t, s, "/api/episode", 400, &e)
	if !strings.Contains(e["error"], "key=") {
		t.Errorf("missing key: %q", e["error"])
	}
}

// The viewer keeps at most MaxTrajectories, newest first, and only the current and
// the previous run; the iteration and evaluation lists are capped too.
func TestMemoryIsBounded(t *testing.T) {
	s, _ := newTestServer(100)
	for run := 0; run < 3; run++ {
		s.RunStarted(observe.Run{Stage: "stage1", Iterations: 1, EpisodesPerIteration: 300})
		for i := 0; i < 300; i++ {
			s.Record("stage1", record(ref(0, i, 0), messages.StopSubmit, false, 1))
		}
	}
	st := s.Snapshot()
	if st.Kept != 100 {
		t.Errorf("kept %d trajectories, want the cap of 100", st.Kept)
	}
	if _, ok := s.Trajectory("r3/k0/g299/s0"); !ok {
		t.Error("the newest trajectory was dropped")
	}
	if _, ok := s.Trajectory("r3/k0/g0/s0"); ok {
		t.Error("the oldest trajectory beyond the cap was kept")
	}
	if len(st.Episodes) != 300 || st.Stops["submit"] != 300 {
		t.Errorf("current run: %d cells, stops %v", len(st.Episodes), st.Stops)
	}

	// A kept trajectory's texts are capped, whatever the agent printed.
	big := record(ref(0, 0, 0), messages.StopSubmit, false, 0)
	big.Transcript = big.Transcript.Append(messages.Turn{Observation: strings.Repeat("x", 10*maxText)})
	s.Record("stage1", big)
	if tr, ok := s.Trajectory("r3/k0/g0/s0"); !ok || len(tr.Turns) != 1 {
		t.Errorf("the big record: kept %v, %d turns", ok, len(tr.Turns))
	} else if o := tr.Turns[0].Observation; len(o) > maxText+100 || !strings.Contains(o, "more bytes not kept") {
		t.Errorf("a 160 KiB observation is kept as %d bytes", len(o))
	}

	// Runs: a new run drops the run before the previous one.
	s2, _ := newTestServer(0)
	for run := 0; run < 3; run++ {
		s2.RunStarted(observe.Run{Stage: "eval"})
		s2.Record("eval", record(ref(0, 0, 0), messages.StopSubmit, true, 1))
	}
	if _, ok := s2.Trajectory("r1/k0/g0/s0"); ok {
		t.Error("run 1's trajectory survived two newer runs")
	}
	if _, ok := s2.Trajectory("r2/k0/g0/s0"); !ok {
		t.Error("the previous run's trajectory was dropped")
	}

	for i := 0; i < 3*maxIterations; i++ {
		s.Iteration("stage1", actors.IterationReport{Iteration: i, Train: messages.TrainStats{Loss: float64(i)}})
	}
	for i := 0; i < 2*maxCurvePoints; i++ {
		s.Eval(observe.Eval{Stage: "stage1", Step: i})
	}
	st = s.Snapshot()
	if len(st.Iterations) != maxIterations || st.Iterations[maxIterations-1].Loss != 3*maxIterations-1 {
		t.Errorf("iterations: %d kept, last %+v", len(st.Iterations), st.Iterations[len(st.Iterations)-1])
	}
	if len(st.Evals) != maxCurvePoints {
		t.Errorf("evals: %d kept", len(st.Evals))
	}

	// Stragglers: the top ten only.
	s.RunStarted(observe.Run{Stage: "stage1", EpisodesPerIteration: 50})
	for i := 0; i < 50; i++ {
		s.Observe(actors.Event{Kind: actors.EventPhase, Ref: ref(0, i, 0), Phase: actors.PhaseGenerating})
	}
	if st := s.Snapshot(); len(st.Stragglers) != maxStragglers {
		t.Errorf("%d stragglers", len(st.Stragglers))
	}
}

func TestIterationsAndCurve(t *testing.T) {
	s, _ := newTestServer(0)
	s.Iteration("stage1", actors.IterationReport{Iteration: 3, PolicyVersion: 4, Resolved: 2, Finished: 5,
		Train: messages.TrainStats{Loss: 0.5, ClipFracLow: 0.01, ClipFracHigh: 0.02, Entropy: 1.5, Steps: 1, Tokens: 40}})
	// An evaluation's barrier: the frozen policy takes no step.
	s.Iteration("eval", actors.IterationReport{Iteration: 0, PolicyVersion: 5, Finished: 8, Train: messages.TrainStats{Trajectories: 8}})
	var st State
	getJSON(t, s, "/api/state", 200, &st)
	if len(st.Iterations) != 2 {
		t.Fatalf("iterations: %+v", st.Iterations)
	}
	if it := st.Iterations[0]; it.Stage != "stage1" || it.Iteration != 3 || it.Version != 4 || it.Loss != 0.5 ||
		it.ClipFracLow != 0.01 || it.ClipFracHigh != 0.02 || it.Entropy != 1.5 || !it.Learned {
		t.Errorf("iteration: %+v", it)
	}
	if it := st.Iterations[1]; it.Stage != "eval" || it.Learned {
		t.Errorf("an evaluation's barrier is not a learner step: %+v", it)
	}

	curve := func() string {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/curve.svg", nil))
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/svg+xml" {
			t.Fatalf("/curve.svg: %d %q", rec.Code, rec.Header().Get("Content-Type"))
		}
		return rec.Body.String()
	}
	if svg := curve(); !strings.Contains(svg, "<svg") || strings.Contains(svg, "<circle") {
		t.Errorf("empty curve: %s", svg)
	}
	s.Eval(observe.Eval{Stage: "base", Step: 0, Pass1: 0.1})
	s.Eval(observe.Eval{Stage: "rft", Step: 0, Pass1: 0.2})
	s.Eval(observe.Eval{Stage: "stage1", Step: 3, Pass1: 0.3})
	svg := curve()
	if strings.Count(svg, "<circle") != 3 || !strings.Contains(svg, "base 10.0%") || !strings.Contains(svg, "rft 20.0%") {
		t.Errorf("curve with three evaluations and the base/RFT marks:\n%s", svg)
	}
}

func TestPageIsServed(t *testing.T) {
	s, _ := newTestServer(0)
	for path, want := range map[string]string{"/": `id="grid"`, "/app.js": "api/state", "/style.css": ".cell"} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("GET %s: %d, body lacks %q", path, rec.Code, want)
		}
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/nope.js", nil))
	if rec.Code != 404 {
		t.Errorf("GET /nope.js: %d", rec.Code)
	}
	// The page loads nothing from elsewhere (no CDN, no external fonts).
	for _, f := range []string{"static/index.html", "static/app.js", "static/style.css"} {
		b, _ := static.ReadFile(f)
		if strings.Contains(string(b), "http://") && !strings.Contains(string(b), "http://www.w3.org/2000/svg") || strings.Contains(string(b), "https://") {
			t.Errorf("%s refers to another site", f)
		}
	}
}

// The Watcher methods are safe to call concurrently with the handlers (run with -race).
func TestConcurrentReportsAndReads(t *testing.T) {
	s, _ := newTestServer(50)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				s.Observe(actors.Event{Kind: actors.EventPhase, Ref: ref(0, w, i), Phase: actors.PhaseGenerating})
				s.Record("stage1", record(ref(0, w, i), messages.StopSubmit, i%2 == 0, 1))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest("GET", "/api/state", nil))
			if rec.Code != 200 || !json.Valid(rec.Body.Bytes()) {
				t.Errorf("/api/state while reports arrive: %d %s", rec.Code, rec.Body.String())
				return
			}
		}
	}()
	wg.Wait()
	if st := s.Snapshot(); st.Kept != 50 || st.Stops["submit"] != 800 {
		t.Errorf("kept %d, stops %v", st.Kept, st.Stops)
	}
}
