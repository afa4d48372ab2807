package swe

import (
	"strings"
	"testing"
)

func TestRunnerDidNotRun(t *testing.T) {
	task := Task{FailToPass: TestList{"t::f2p"}, PassToPass: TestList{"t::p2p"}}
	found := map[string]TestStatus{"t::p2p": StatusPassed}
	other := map[string]TestStatus{"t::elsewhere": StatusPassed}
	cases := []struct {
		name     string
		statuses map[string]TestStatus
		exit     int
		log      string
		want     string // "" when the runner ran
	}{
		{"tests failing ran", map[string]TestStatus{"t::f2p": StatusFailed}, 1, "", ""},
		{"one P2P test is enough", found, 0, "", ""},
		{"status unknown", found, -1, "", ""},
		{"not found", nil, 127, "bash: pytest: command not found", "exit 127"},
		{"not found wins over a log", found, 127, "", "exit 127"},
		{"not executable", nil, 126, "bin/test: Permission denied", "exit 126"},
		{"import error", nil, 4, "ImportError while loading conftest", "import error before collection"},
		{"module not found", nil, 1, "ModuleNotFoundError: No module named 'mpmath'", "import error before collection"},
		{"other tests only", other, 0, "", "no FAIL_TO_PASS or PASS_TO_PASS test"},
		{"empty log", nil, 0, "", "no FAIL_TO_PASS or PASS_TO_PASS test"},
	}
	for _, c := range cases {
		got := runnerDidNotRun(task, c.statuses, c.exit, c.log)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestLogTailBounded(t *testing.T) {
	var b strings.Builder
	for i := range 50 {
		b.WriteString(strings.Repeat("x", i) + "\n")
	}
	if got := strings.Count(logTail(b.String()), "\n"); got != runnerTailLines-1 {
		t.Errorf("%d lines in the tail", got+1)
	}
	if got := logTail(strings.Repeat("y", 1<<20)); len(got) > runnerTailBytes+3 {
		t.Errorf("one huge line: a tail of %d bytes", len(got))
	}
}
