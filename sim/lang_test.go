package sim

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"testing/quick"
)

func TestParseLineRoundTrip(t *testing.T) {
	for _, s := range []string{
		"def f7 ( a , b ) :",
		"def f0 ( ) :",
		"def f99 ( c ) :",
		"t = a * 2",
		"u = t - b",
		"return 7",
		"return w",
		"v = f3 ( a , 4 , t )",
		"return f12 ( )",
		"a = a + a",
	} {
		l, err := parseLine(s)
		if err != nil {
			t.Errorf("parseLine(%q): %v", s, err)
			continue
		}
		if got := l.String(); got != s {
			t.Errorf("parseLine(%q).String() = %q", s, got)
		}
	}
	// Extra spaces are tolerated; the canonical spelling uses single ones.
	if l, err := parseLine("  t  =  a +   1 "); err != nil || l.String() != "t = a + 1" {
		t.Errorf("spaced line: %v %q", err, l.String())
	}
}

func TestParseLineErrors(t *testing.T) {
	for _, s := range []string{
		"", "def", "def f7 ( a , b )", "def g ( a ) :", "def f7 ( a , a ) :", "def f7 ( x ) :",
		"def f7 ( a b ) :", "def f07 ( a ) :", "t = ", "t = a +", "t = a + + b", "t = a / b",
		"x = a + 1", "t = -1", "t = 03", "return a b", "return f3 ( a , )", "return f3 ( a", "t == a",
		"return big", "t = f3 ( f4 ( a ) )", "hello world",
	} {
		if _, err := parseLine(s); !errors.Is(err, errSyntax) {
			t.Errorf("parseLine(%q) = %v, want a syntax error", s, err)
		}
	}
}

// randomLine draws a valid line of the language.
func randomLine(r *rand.Rand) line {
	vars := append(append([]string(nil), paramNames...), localNames...)
	a := func() atom {
		if r.IntN(2) == 0 {
			return atom{name: vars[r.IntN(len(vars))]}
		}
		return atom{n: r.IntN(100)}
	}
	var l line
	switch r.IntN(3) {
	case 0:
		l.kind, l.name = lineDef, funcName(r.IntN(100))
		l.params = paramNames[:r.IntN(4)]
		return l
	case 1:
		l.kind, l.name = lineAssign, vars[r.IntN(len(vars))]
	default:
		l.kind = lineReturn
	}
	switch r.IntN(3) {
	case 0:
		l.args = []atom{a()}
	case 1:
		l.args, l.op = []atom{a(), a()}, opWords[r.IntN(3)]
	default:
		l.fn = funcName(r.IntN(100))
		for range r.IntN(4) {
			l.args = append(l.args, a())
		}
	}
	return l
}

func TestParseRenderProperty(t *testing.T) {
	f := func(seed uint64) bool {
		l := randomLine(rand.New(rand.NewPCG(seed, 1)))
		p, err := parseLine(l.String())
		return err == nil && p.String() == l.String()
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 2000}); err != nil {
		t.Error(err)
	}
}

func TestInterpreter(t *testing.T) {
	files := map[string]string{
		"mod0.py": "def f1 ( a , b ) :\nt = a * 2\nreturn t + b\ndef f2 ( a ) :\nt = f1 ( a , 3 )\nreturn t - 1\n",
		"mod1.py": "def f3 ( a ) :\nreturn f3 ( a )\ndef f4 ( a ) :\nreturn z\ndef f5 ( a ) :\nreturn b\n" +
			"def f6 ( a ) :\nt = a + 1\ndef f7 ( a ) :\nreturn f1 ( a )\ndef f8 ( a ) :\nt = a * a\nu = t * t\nv = u * u\nreturn v * v\n" +
			"def f9 ( a ) :\nreturn a - 5\ndef f10 ( a , b ) :\nreturn a\nreturn b\n\ndef f11 ( a ) :\n\nreturn a\n",
		"mod2.py":   "t = 1\ndef f12 ( a ) :\nreturn a\n",
		"notes.txt": "def f13 ( a ) :\nreturn a\n",
	}
	p := parseProgram(files)
	for _, c := range []struct {
		fn      string
		args    []int
		want    int
		wantErr bool
	}{
		{"f1", []int{3, 4}, 10, false},
		{"f2", []int{5}, 12, false},
		{"f3", []int{1}, 0, true}, // recursion too deep
		{"f4", []int{1}, 0, true}, // a syntax error breaks the function
		{"f5", []int{1}, 0, true}, // unset variable
		{"f6", []int{1}, 0, true}, // no return
		{"f7", []int{1}, 0, true}, // wrong arity in a call
		{"f1", []int{1}, 0, true}, // wrong arity
		{"f8", []int{9}, valueLimit, false},
		{"f9", []int{2}, -3, false},
		{"f10", []int{1, 2}, 1, false}, // the first return ends the function
		{"f11", []int{4}, 4, false},    // blank lines are skipped
		{"f12", []int{1}, 0, true},     // a stray line before the first def breaks the file
		{"f13", []int{1}, 0, true},     // only .py files hold code
		{"f99", []int{1}, 0, true},     // unknown
	} {
		got, err := p.call(c.fn, c.args)
		if (err != nil) != c.wantErr || (err == nil && got != c.want) {
			t.Errorf("%s%v = %d, %v; want %d (error %v)", c.fn, c.args, got, err, c.want, c.wantErr)
		}
	}
	for v, w := range map[int]string{0: "0", 42: "42", 99: "99", 100: "big", valueLimit: "big", -1: "neg"} {
		if got := valueWord(v); got != w {
			t.Errorf("valueWord(%d) = %q, want %q", v, got, w)
		}
	}
}

func TestRunTestsReport(t *testing.T) {
	p := parseProgram(map[string]string{"mod0.py": "def f1 ( a , b ) :\nreturn a + b\ndef f2 ( a ) :\nreturn a * 20\ndef f3 ( a ) :\nreturn q\n"})
	tests := []Test{
		{Func: "f1", Cases: []Case{{Args: []int{1, 2}, Want: 3}}},
		{Func: "f2", Cases: []Case{{Args: []int{2}, Want: 40}, {Args: []int{9}, Want: 80}}},
		{Func: "f3", Cases: []Case{{Args: []int{1}, Want: 1}}},
	}
	report, failed := runTests(p, tests)
	want := "ok f1\nok f2 ( 2 ) gave 40 want 40\nFAIL f2 ( 9 ) gave big want 80\nFAIL f3 ( 1 ) gave error want 1\n2 failed 1 passed"
	if report != want {
		t.Errorf("report:\n%s\nwant:\n%s", report, want)
	}
	if len(failed) != 2 || failed[0] != "f2" || failed[1] != "f3" {
		t.Errorf("failed = %v", failed)
	}
	r, ok := parseReport(report)
	if !ok || len(r.failing) != 2 || len(r.cases["f2"]) != 2 || r.cases["f2"][1].Want != 80 || r.cases["f2"][1].Args[0] != 9 {
		t.Errorf("parseReport = %+v, %v", r, ok)
	}
}

func TestEditsAreInvertible(t *testing.T) {
	// Every edit of a line can be undone by an edit of the same kind.
	r := rand.New(rand.NewPCG(3, 4))
	scope := []string{"a", "b", "t"}
	for range 500 {
		l := randomLine(r)
		if l.kind == lineDef {
			continue
		}
		for i := range l.args {
			if l.args[i].name != "" && l.args[i].name != "a" && l.args[i].name != "b" && l.args[i].name != "t" {
				l.args[i] = atom{name: "a"}
			}
			if l.args[i].name == "" && l.args[i].n > 98 {
				l.args[i].n = 5
			}
		}
		for _, e := range edits(l, scope) {
			if e.l.String() == l.String() {
				t.Fatalf("edit of %q changes nothing", l.String())
			}
			back := false
			for _, e2 := range edits(e.l, scope) {
				back = back || (e2.kind == e.kind && e2.l.String() == l.String())
			}
			if !back {
				t.Errorf("%s edit %q -> %q has no inverse", e.kind, l.String(), e.l.String())
			}
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
