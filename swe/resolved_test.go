package swe

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/quick"
)

func TestEvaluate(t *testing.T) {
	f2p := TestList{"t::a", "t::b"}
	p2p := TestList{"t::c", "t::d"}
	tests := []struct {
		name     string
		f2p, p2p TestList
		statuses map[string]TestStatus
		resolved bool
	}{
		{"all passed", f2p, p2p, map[string]TestStatus{"t::a": P, "t::b": P, "t::c": P, "t::d": P}, true},
		{"xfail counts for both", f2p, p2p, map[string]TestStatus{"t::a": X, "t::b": P, "t::c": X, "t::d": P}, true},
		{"skipped keeps a P2P", f2p, p2p, map[string]TestStatus{"t::a": P, "t::b": P, "t::c": S, "t::d": P}, true},
		{"skipped does not keep an F2P", f2p, p2p, map[string]TestStatus{"t::a": S, "t::b": P, "t::c": P, "t::d": P}, false},
		{"F2P failed", f2p, p2p, map[string]TestStatus{"t::a": F, "t::b": P, "t::c": P, "t::d": P}, false},
		{"F2P error", f2p, p2p, map[string]TestStatus{"t::a": P, "t::b": E, "t::c": P, "t::d": P}, false},
		{"P2P broken", f2p, p2p, map[string]TestStatus{"t::a": P, "t::b": P, "t::c": P, "t::d": F}, false},
		{"F2P missing = failed", f2p, p2p, map[string]TestStatus{"t::a": P, "t::c": P, "t::d": P}, false},
		{"P2P missing = failed", f2p, p2p, map[string]TestStatus{"t::a": P, "t::b": P, "t::c": P}, false},
		{"empty log", f2p, p2p, nil, false},
		{"no P2P", f2p, nil, map[string]TestStatus{"t::a": P, "t::b": P}, true},
		{"no F2P is never resolved", nil, p2p, map[string]TestStatus{"t::c": P, "t::d": P}, false},
		{"extra tests in the log do not matter", f2p, p2p,
			map[string]TestStatus{"t::a": P, "t::b": P, "t::c": P, "t::d": P, "t::z": F}, true},
		{"unknown status fails", f2p, p2p, map[string]TestStatus{"t::a": "WEIRD", "t::b": P, "t::c": P, "t::d": P}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Evaluate(Task{FailToPass: tt.f2p, PassToPass: tt.p2p}, tt.statuses)
			if r.Resolved != tt.resolved {
				t.Errorf("Resolved = %v, want %v (%s)", r.Resolved, tt.resolved, r.Summary())
			}
			if len(r.FailToPass) != len(tt.f2p) || len(r.PassToPass) != len(tt.p2p) {
				t.Errorf("report has %d/%d outcomes, want %d/%d", len(r.FailToPass), len(r.PassToPass), len(tt.f2p), len(tt.p2p))
			}
		})
	}
}

func TestEvaluateOutcomes(t *testing.T) {
	r := Evaluate(Task{FailToPass: TestList{"a", "b"}, PassToPass: TestList{"c"}}, map[string]TestStatus{"a": X, "c": S})
	want := Report{
		FailToPass: []TestOutcome{{"a", X, true}, {"b", StatusMissing, false}},
		PassToPass: []TestOutcome{{"c", S, true}},
	}
	if fmt.Sprint(r) != fmt.Sprint(want) {
		t.Errorf("got %+v, want %+v", r, want)
	}
}

func TestSummary(t *testing.T) {
	r := Evaluate(Task{FailToPass: TestList{"a::b", "x::y", "c::d"}, PassToPass: TestList{"p1", "p2"}},
		map[string]TestStatus{"a::b": F, "x::y": P, "p1": P, "p2": S})
	want := "FAIL_TO_PASS 1/3, PASS_TO_PASS 2/2; failing: a::b (FAILED), c::d (missing)"
	if got := r.Summary(); got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	ok := Evaluate(Task{FailToPass: TestList{"a"}}, map[string]TestStatus{"a": P})
	if got := ok.Summary(); got != "FAIL_TO_PASS 1/1, PASS_TO_PASS 0/0" {
		t.Errorf("Summary() = %q", got)
	}
	none := Evaluate(Task{}, nil)
	if got := none.Summary(); !strings.Contains(got, "no FAIL_TO_PASS test") {
		t.Errorf("Summary() = %q", got)
	}
}

func TestSummaryCapsTheFailingList(t *testing.T) {
	var p2p TestList
	for i := range 25 {
		p2p = append(p2p, fmt.Sprintf("t%02d", i))
	}
	s := Evaluate(Task{FailToPass: TestList{"f"}, PassToPass: p2p}, nil).Summary()
	if !strings.HasPrefix(s, "FAIL_TO_PASS 0/1, PASS_TO_PASS 0/25; failing: f (missing), t00 (missing)") {
		t.Errorf("Summary() = %q", s)
	}
	if !strings.HasSuffix(s, "t08 (missing) and 16 more") {
		t.Errorf("Summary() = %q", s)
	}
}

// TestEvaluateMatchesNaiveRule checks Evaluate against the rule written out the
// plain way, over random tasks and logs.
func TestEvaluateMatchesNaiveRule(t *testing.T) {
	statuses := []TestStatus{P, F, E, S, X}
	naive := func(task Task, log map[string]TestStatus) bool {
		if len(task.FailToPass) == 0 {
			return false
		}
		for _, n := range task.FailToPass {
			s, ok := log[n]
			if !ok || (s != P && s != X) {
				return false
			}
		}
		for _, n := range task.PassToPass {
			s, ok := log[n]
			if !ok || (s != P && s != X && s != S) {
				return false
			}
		}
		return true
	}
	check := func(seed uint64) bool {
		rng := rand.New(rand.NewPCG(seed, 1))
		names := func() TestList {
			var l TestList
			for range rng.IntN(4) {
				l = append(l, fmt.Sprint("t", rng.IntN(6)))
			}
			return l
		}
		task := Task{FailToPass: names(), PassToPass: names()}
		log := map[string]TestStatus{}
		for i := range 6 {
			if rng.IntN(3) > 0 {
				log[fmt.Sprint("t", i)] = statuses[rng.IntN(len(statuses))]
			}
		}
		// Bias toward passing logs so resolved cases show up too.
		if rng.IntN(2) == 0 {
			for k := range log {
				log[k] = P
			}
		}
		got := Evaluate(task, log).Resolved
		if got != naive(task, log) {
			t.Logf("seed %d: task %v/%v log %v: Evaluate %v", seed, task.FailToPass, task.PassToPass, log, got)
			return false
		}
		return true
	}
	if err := quick.Check(check, &quick.Config{MaxCount: 2000}); err != nil {
		t.Error(err)
	}
}

// TestEvaluateFromFixture runs a parsed fixture log through the rule end to end.
func TestEvaluateFromFixture(t *testing.T) {
	statuses, err := ParseLog("django", readLog(t, "django.log"))
	if err != nil {
		t.Fatal(err)
	}
	gold := Task{
		FailToPass: TestList{"--squashed-name specifies the new migration's name."},
		PassToPass: TestList{
			"test_makemigrations_empty_connections (migrations.test_commands.MakeMigrationsTests)",
			"test_files_content (migrations.test_commands.MakeMigrationsTests)", // skipped: keeps a P2P
		},
	}
	if r := Evaluate(gold, statuses); !r.Resolved {
		t.Errorf("want resolved: %s", r.Summary())
	}
	broken := gold
	broken.FailToPass = append(TestList{"test_sqlmigrate_backwards (migrations.test_commands.MigrateTests)"}, gold.FailToPass...)
	r := Evaluate(broken, statuses)
	if r.Resolved {
		t.Error("want not resolved")
	}
	if want := "failing: test_sqlmigrate_backwards (migrations.test_commands.MigrateTests) (ERROR)"; !strings.Contains(r.Summary(), want) {
		t.Errorf("Summary() = %q, want it to contain %q", r.Summary(), want)
	}
}
