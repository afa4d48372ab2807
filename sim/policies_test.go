package sim

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
)

var (
	generatedMu    sync.Mutex
	generatedCache = map[string][]Task{}
)

// generated returns Generate(cfg, n), cached: tests share the big task sets.
func generated(cfg Config, n int) []Task {
	generatedMu.Lock()
	defer generatedMu.Unlock()
	key := fmt.Sprintf("%+v/%d", cfg, n)
	if ts, ok := generatedCache[key]; ok {
		return ts
	}
	ts := Generate(cfg, n)
	generatedCache[key] = ts
	return ts
}

// sizes of the shared task sets per preset.
var presetTasks = map[string]int{"easy": 200, "default": 500, "hard": 200}

type rolloutSet struct {
	tasks []Task
	eps   []Episode
}

var (
	rolloutMu    sync.Mutex
	rolloutCache = map[string]*rolloutSet{}
)

// rollouts runs p on the first n tasks of cfg (cached per name), on every CPU.
func rollouts(t *testing.T, name string, cfg Config, n int, p policy.Policy, turnCap int) *rolloutSet {
	t.Helper()
	rolloutMu.Lock()
	defer rolloutMu.Unlock()
	if s, ok := rolloutCache[name]; ok {
		return s
	}
	s := &rolloutSet{tasks: generated(cfg, n), eps: make([]Episode, n)}
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				s.eps[i], errs[i] = Run(context.Background(), p, s.tasks[i], turnCap)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %s: %v", name, s.tasks[i].ID, err)
		}
	}
	rolloutCache[name] = s
	return s
}

// The named runs shared by the rate and vocabulary tests.
func runs(t *testing.T) map[string]*rolloutSet {
	return map[string]*rolloutSet{
		"easy/expert":    rollouts(t, "easy/expert", Easy(), 200, Expert{}, 40),
		"easy/noisy":     rollouts(t, "easy/noisy", Easy(), 200, Noisy{P: 0.3, Seed: 7}, 40),
		"easy/random":    rollouts(t, "easy/random", Easy(), 200, Random{Seed: 7}, 40),
		"default/expert": rollouts(t, "default/expert", Default(), 500, Expert{}, 40),
		"default/noisy":  rollouts(t, "default/noisy", Default(), 500, Noisy{P: 0.3, Seed: 7}, 40),
		"default/random": rollouts(t, "default/random", Default(), 500, Random{Seed: 7}, 40),
		"hard/expert":    rollouts(t, "hard/expert", Hard(), 200, Expert{}, 40),
		"hard/noisy":     rollouts(t, "hard/noisy", Hard(), 200, Noisy{P: 0.3, Seed: 7}, 40),
		"hard/random":    rollouts(t, "hard/random", Hard(), 200, Random{Seed: 7}, 40),
		"guided/expert":  rollouts(t, "guided/expert", Guided(), 300, Expert{}, 40),
		"guided/noisy":   rollouts(t, "guided/noisy", Guided(), 300, Noisy{P: 0.3, Seed: 7}, 40),
		"guided/random":  rollouts(t, "guided/random", Guided(), 300, Random{Seed: 7}, 40),
	}
}

type stats struct {
	rate, turns, words float64
	maxWords           int
}

func (s *rolloutSet) stats() stats {
	var st stats
	for i, ep := range s.eps {
		if ep.Resolved {
			st.rate++
		}
		st.turns += float64(ep.Transcript.Len())
		w := ep.Words(s.tasks[i])
		st.words += float64(w)
		st.maxWords = max(st.maxWords, w)
	}
	n := float64(len(s.eps))
	st.rate, st.turns, st.words = st.rate/n, st.turns/n, st.words/n
	return st
}

func TestResolveRates(t *testing.T) {
	r := runs(t)
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	slices.Sort(names)
	got := map[string]stats{}
	for _, n := range names {
		got[n] = r[n].stats()
		s := got[n]
		t.Logf("%-15s resolved %.3f  turns %.1f  words %.0f (max %d)", n, s.rate, s.turns, s.words, s.maxWords)
	}
	for _, world := range []string{"easy", "default", "hard", "guided"} {
		expert, noisy, random := got[world+"/expert"].rate, got[world+"/noisy"].rate, got[world+"/random"].rate
		wantExpert := 0.95
		if world == "hard" {
			wantExpert = 0.90
		}
		if expert <= wantExpert {
			t.Errorf("%s: expert resolves %.3f, want > %.2f", world, expert, wantExpert)
		}
		if random >= 0.05 {
			t.Errorf("%s: random resolves %.3f, want < 0.05", world, random)
		}
		gap := 0.1
		if world == "guided" {
			gap = 0.03 // the trace puts the Expert back on track after a blunder
		}
		if noisy <= random+0.2 || noisy >= expert-gap {
			t.Errorf("%s: noisy resolves %.3f, want well between random %.3f and expert %.3f", world, noisy, random, expert)
		}
		lo, hi := 5.0, 14.0
		if world == "guided" {
			lo, hi = 4, 4 // run_tests, fix from the trace, run_tests, submit
		}
		if turns := got[world+"/expert"].turns; turns < lo || turns > hi {
			t.Errorf("%s: expert takes %.1f turns, want %.0f to %.0f", world, turns, lo, hi)
		}
	}
	if e, d := got["easy/expert"].words, got["default/expert"].words; e >= d {
		t.Errorf("easy expert episodes (%.0f words) are not shorter than default ones (%.0f)", e, d)
	}
	if h := got["hard/expert"]; h.words < 1500 || h.maxWords < 2000 {
		t.Errorf("hard expert episodes average %.0f words (max %d), want thousands", h.words, h.maxWords)
	}
}

func TestVocabClosure(t *testing.T) {
	vocab := Vocab()
	in := map[string]bool{}
	for _, w := range vocab {
		if in[w] {
			t.Errorf("vocabulary repeats %q", w)
		}
		in[w] = true
	}
	if vocab[0] != "\n" || len(vocab) < 200 || len(vocab) > 400 {
		t.Errorf("vocabulary of %d words, first %q", len(vocab), vocab[0])
	}
	if !slices.Equal(vocab, Vocab()) {
		t.Error("Vocab is not stable")
	}
	check := func(where, text string) {
		for _, w := range Words(text) {
			if !in[w] {
				t.Fatalf("%s: word %q is not in Vocab (text %q)", where, w, text)
			}
		}
	}
	for name, s := range runs(t) {
		for i, ep := range s.eps {
			task := s.tasks[i]
			check(name+" "+task.ID+" statement", task.Statement)
			for _, f := range task.FileNames() {
				check(name+" "+task.ID+" "+f, f+"\n"+task.Files()[f])
			}
			for _, tu := range ep.Transcript.Turns() {
				where := fmt.Sprintf("%s %s turn %d", name, task.ID, tu.Index)
				check(where+" reply", tu.Assistant)
				check(where+" observation", tu.Observation)
			}
		}
	}
}

func TestWords(t *testing.T) {
	got := Words("ok f1\nFAIL f2 ( 1 )  gave 3\n")
	want := []string{"ok", "f1", "\n", "FAIL", "f2", "(", "1", ")", "gave", "3", "\n"}
	if !slices.Equal(got, want) {
		t.Errorf("Words = %q, want %q", got, want)
	}
}

// Noisy and Random depend only on the seed, the episode and the turn: the same
// rollouts come out sequentially and concurrently.
func TestScriptedPoliciesDeterministic(t *testing.T) {
	tasks := Generate(Default(), 40)
	for _, p := range []policy.Policy{Noisy{P: 0.5, Seed: 3}, Random{Seed: 3}} {
		seq := make([]Episode, len(tasks))
		for i, task := range tasks {
			ep, err := Run(context.Background(), p, task, 20)
			if err != nil {
				t.Fatal(err)
			}
			seq[i] = ep
		}
		par := make([]Episode, len(tasks))
		var wg sync.WaitGroup
		for i, task := range tasks {
			wg.Go(func() { par[i], _ = Run(context.Background(), p, task, 20) })
		}
		wg.Wait()
		for i := range tasks {
			a, b := seq[i].Transcript.Turns(), par[i].Transcript.Turns()
			if len(a) != len(b) || seq[i].Patch != par[i].Patch {
				t.Fatalf("%T %s: concurrent run differs", p, tasks[i].ID)
			}
			for j := range a {
				if a[j].Assistant != b[j].Assistant {
					t.Fatalf("%T %s turn %d differs", p, tasks[i].ID, j)
				}
			}
		}
		// Another sample of the same task draws other moves.
		ref := messages.EpisodeRef{TaskID: tasks[0].ID, Sample: 1}
		other, _ := RunEpisode(context.Background(), p, tasks[0], ref, 20)
		same := other.Transcript.Len() == seq[0].Transcript.Len()
		if same {
			for j, tu := range other.Transcript.Turns() {
				same = same && tu.Assistant == seq[0].Transcript.Turns()[j].Assistant
			}
		}
		if same {
			t.Errorf("%T: samples 0 and 1 of %s are identical", p, tasks[0].ID)
		}
	}
}

// script replies with fixed texts, then submits.
type script []string

func (s script) Generate(_ context.Context, req policy.Request) (policy.Reply, error) {
	if req.Turn < len(s) {
		return policy.Reply{Text: s[req.Turn], Tokens: []int32{1, 2}, Logprobs: []float32{-1, -2}}, nil
	}
	return policy.Reply{Text: reply("done .", "submit")}, nil
}

func TestRun(t *testing.T) {
	task := handTask()
	ctx := context.Background()
	p := script{
		"no block here",
		reply("two", "ls") + "\n" + reply("blocks", "ls"),
		reply("fix it", "fix mod0.py 5 return a + b"),
	}
	ep, err := Run(ctx, p, task, 10)
	if err != nil {
		t.Fatal(err)
	}
	turns := ep.Transcript.Turns()
	if len(turns) != 4 || ep.Stop != messages.StopSubmit || !ep.Resolved {
		t.Fatalf("episode: %d turns, stop %s, resolved %v (%s)", len(turns), ep.Stop, ep.Resolved, ep.Detail)
	}
	if turns[0].FormatError == "" || turns[0].Observation != turns[0].FormatError || turns[1].FormatError == "" {
		t.Errorf("format errors not recorded: %+v %+v", turns[0], turns[1])
	}
	if turns[2].Command != "fix mod0.py 5 return a + b" || turns[2].ExitCode != 0 || turns[2].NumTokens() != 2 {
		t.Errorf("turn 2: %+v", turns[2])
	}
	if turns[3].Command != "submit" || turns[3].Observation != "" {
		t.Errorf("turn 3: %+v", turns[3])
	}
	// At the turn cap the working tree is the answer.
	ep, err = Run(ctx, p, task, 3)
	if err != nil || ep.Stop != messages.StopTurnCap || ep.Transcript.Len() != 3 || !ep.Resolved {
		t.Errorf("capped episode: %v, stop %s, %d turns, resolved %v", err, ep.Stop, ep.Transcript.Len(), ep.Resolved)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Run(cctx, Expert{}, task, 3); err == nil {
		t.Error("Run with a canceled context did not fail")
	}
}

// The expert reads observations only: on a hand-written task it finds the bug the
// generator never described.
func TestExpertOnHandTask(t *testing.T) {
	task := handTask()
	task.Bug = Bug{}
	ep, err := Run(context.Background(), Expert{}, task, 10)
	if err != nil || !ep.Resolved {
		t.Fatalf("expert: %v, resolved %v", err, ep.Resolved)
	}
	var cmds []string
	for _, tu := range ep.Transcript.Turns() {
		cmds = append(cmds, tu.Command)
	}
	want := []string{"run_tests", "grep def f2 (", "show mod0.py 4", "fix mod0.py 5 return a + b", "run_tests", "submit"}
	if !slices.Equal(cmds, want) {
		t.Errorf("expert commands %q, want %q", cmds, want)
	}
}
