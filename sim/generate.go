package sim

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/swerl/swerl/messages"
)

// Bug is where the generator put the bug and how to undo it. Policies must not read
// it (the Expert does not); it is there for tests and for analysis.
type Bug struct {
	Kind  BugKind
	Func  string // the function holding the bug
	Issue string // the tested function the statement names: Func or its caller's caller…
	File  string
	Line  int    // from 1
	Buggy string // the line as generated
	Fix   string // the correct line: writing it back resolves the task
}

// Task is one generated repository with one bug. Files and Tests return copies; a
// Task may be shared between goroutines.
type Task struct {
	ID        string // sim-<seed>-<index>
	Statement string // the issue: a symptom, never a file or a line
	Bug       Bug
	files     map[string]string
	tests     []Test
	window    int
	gold      map[string]string // the repository without the bug
	trace     bool
}

// TaskRef returns the task as the engine names it.
func (t Task) TaskRef() messages.TaskRef { return messages.TaskRef{ID: t.ID, Statement: t.Statement} }

// Files returns the repository at its base (with the bug), a new map.
func (t Task) Files() map[string]string { return maps.Clone(t.files) }

// FileNames returns the repository's file names in order.
func (t Task) FileNames() []string { return slices.Sorted(maps.Keys(t.files)) }

// Tests returns the task's tests, a deep copy.
func (t Task) Tests() []Test { return cloneTests(t.tests) }

// ShowWindow is the number of lines show prints in this task's sandbox.
func (t Task) ShowWindow() int { return t.window }

// statementTemplates are the issue texts; F, ARGS, X, Y are filled in.
var statementTemplates = []string{
	"calling F ARGS returns X but it should return Y .",
	"F ARGS gives X , but the right answer is Y .",
	"bug report : F is wrong . for F ARGS i get X and i expect Y . please fix it .",
	"F gives the wrong value : F ARGS is X , it should be Y .",
}

// Generate returns n tasks drawn from cfg. Task i depends only on cfg and i, so the
// same seed always gives the same tasks, and a prefix of a longer run. It panics if
// cfg is not valid (see Validate): a configuration error is the caller's bug.
func Generate(cfg Config, n int) []Task {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	out := make([]Task, n)
	for i := range out {
		out[i] = generateTask(cfg, i)
	}
	return out
}

// GenerateOne returns task i of cfg, the same as Generate(cfg, i+1)[i]: a cluster
// worker rebuilds the head's task from its config and index. It returns an error when
// cfg is not valid.
func GenerateOne(cfg Config, i int) (Task, error) {
	if err := cfg.Validate(); err != nil {
		return Task{}, err
	}
	if i < 0 {
		return Task{}, fmt.Errorf("sim: task index %d is negative", i)
	}
	return generateTask(cfg, i), nil
}

func generateTask(cfg Config, i int) Task {
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
	id := fmt.Sprintf("sim-%d-%d", cfg.Seed, i)
	for range 10000 {
		if t, ok := tryTask(cfg, rng, id); ok {
			return t
		}
	}
	panic(fmt.Sprintf("sim: no valid task for %s after 10000 draws", id))
}

// gfunc is a function being generated.
type gfunc struct {
	name   string
	params []string
	body   []line
	tested bool
}

func (f *gfunc) number() int { n, _ := strconv.Atoi(f.name[1:]); return n }

func tryTask(cfg Config, rng *rand.Rand, id string) (Task, bool) {
	total := cfg.Files * cfg.FunctionsPerFile
	perm := rng.Perm(maxFunctionName + 1)
	fs := make([]*gfunc, total)
	for i := range fs {
		fs[i] = &gfunc{name: funcName(perm[i]), tested: true}
	}
	// fs[0] is the issue's function; fs[1..CallDepth] the helpers down to the buggy
	// one; then the distractors; then the rest.
	d := cfg.CallDepth
	chain := fs[:d+1]
	for _, h := range chain[1:] {
		h.tested = false
	}
	buggy := chain[d]
	cases := map[string][]Case{}
	bug, bugAt, ok := genChain(rng, cfg, chain, cases)
	if !ok {
		return Task{}, false
	}
	for _, f := range fs[d+1 : d+1+cfg.Distractors] {
		genDistractor(rng, cfg, f, buggy, cases)
	}
	for _, f := range fs[d+1+cfg.Distractors:] {
		genPlain(rng, cfg, f, cases)
	}

	// Layout: functions shuffled over the files.
	order := rng.Perm(total)
	goldFiles, bugFiles := map[string]string{}, map[string]string{}
	for fi := range cfg.Files {
		var gold, bad strings.Builder
		n := 0
		for k := range cfg.FunctionsPerFile {
			f := fs[order[fi*cfg.FunctionsPerFile+k]]
			def := line{kind: lineDef, name: f.name, params: f.params}.String() + "\n"
			gold.WriteString(def)
			bad.WriteString(def)
			n++
			for j, l := range f.body {
				n++
				gold.WriteString(l.String() + "\n")
				if f == buggy && j == bugAt {
					bug.File, bug.Line = fileName(fi), n
					bad.WriteString(bug.Buggy + "\n")
					continue
				}
				bad.WriteString(l.String() + "\n")
			}
		}
		goldFiles[fileName(fi)], bugFiles[fileName(fi)] = gold.String(), bad.String()
	}

	var tested []*gfunc
	for _, f := range fs {
		if f.tested {
			tested = append(tested, f)
		}
	}
	sort.Slice(tested, func(i, j int) bool { return tested[i].number() < tested[j].number() })
	tests := make([]Test, 0, len(tested))
	for _, f := range tested {
		tests = append(tests, Test{Func: f.name, Cases: cases[f.name]})
	}
	// The files must say what the functions said (a check of the generator).
	goldProg, bugProg := parseProgram(goldFiles), parseProgram(bugFiles)
	if _, failed := runTests(goldProg, tests); len(failed) != 0 {
		panic(fmt.Sprintf("sim: %s: gold repository fails %v", id, failed))
	}
	if _, failed := runTests(bugProg, tests); len(failed) != 1 || failed[0] != chain[0].name {
		panic(fmt.Sprintf("sim: %s: buggy repository fails %v, want [%s]", id, failed, chain[0].name))
	}

	// The statement: the first failing case of the issue's function.
	var stmt string
	for _, c := range cases[chain[0].name] {
		v, err := bugProg.call(chain[0].name, c.Args)
		if err == nil && v == c.Want {
			continue
		}
		stmt = fill(statementTemplates[rng.IntN(len(statementTemplates))], map[string]string{
			"F": chain[0].name, "ARGS": argsText(c.Args), "X": gaveWord(v, err), "Y": valueWord(c.Want)})
		break
	}
	return Task{ID: id, Statement: stmt, Bug: bug, files: bugFiles, tests: tests, window: cfg.ShowWindow,
		gold: goldFiles, trace: cfg.Trace}, true
}

// progOf returns the program of the given functions.
func progOf(fs ...*gfunc) program {
	p := program{}
	for _, f := range fs {
		p[f.name] = &function{name: f.name, params: f.params, body: f.body}
	}
	return p
}

// genChain draws the issue's function, its helpers and the bug (in the last of
// chain), with the issue's cases; it returns the bug and its body line.
func genChain(rng *rand.Rand, cfg Config, chain []*gfunc, cases map[string][]Case) (Bug, int, bool) {
	d := len(chain) - 1
	buggy := chain[d]
	for range 50 {
		genFunc(rng, cfg, buggy, nil)
		for i := d - 1; i >= 0; i-- {
			genFunc(rng, cfg, chain[i], chain[i+1])
		}
		// The bug: a kind first (so kinds are balanced), then a place.
		type site struct {
			j int
			e edit
		}
		byKind := map[BugKind][]site{}
		for j, l := range buggy.body {
			for _, e := range edits(l, scopeAt(buggy.params, buggy.body, j)) {
				if slices.Contains(cfg.BugKinds, e.kind) {
					byKind[e.kind] = append(byKind[e.kind], site{j, e})
				}
			}
		}
		var kinds []BugKind
		for _, k := range cfg.BugKinds {
			if len(byKind[k]) > 0 && !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
		if len(kinds) == 0 {
			continue
		}
		kind := kinds[rng.IntN(len(kinds))]
		s := byKind[kind][rng.IntN(len(byKind[kind]))]
		gold := progOf(chain...)
		bad := progOf(chain...)
		b := *bad[buggy.name]
		b.body = slices.Clone(b.body)
		b.body[s.j] = s.e.l
		bad[buggy.name] = &b
		cs, ok := genCases(rng, cfg.Cases, chain[0].name, len(chain[0].params), gold, bad, true)
		if !ok {
			continue
		}
		cases[chain[0].name] = cs
		return Bug{Kind: kind, Func: buggy.name, Issue: chain[0].name, Buggy: s.e.l.String(),
			Fix: buggy.body[s.j].String()}, s.j, true
	}
	return Bug{}, 0, false
}

// genDistractor makes f a copy of like's correct body with one edit (and its own
// cases), or a plain function when no such copy has cases in range.
func genDistractor(rng *rand.Rand, cfg Config, f, like *gfunc, cases map[string][]Case) {
	for range 20 {
		f.params = like.params
		f.body = make([]line, len(like.body))
		for j, l := range like.body {
			f.body[j] = l.clone()
		}
		j := rng.IntN(len(f.body))
		if es := edits(f.body[j], scopeAt(f.params, f.body, j)); len(es) > 0 {
			f.body[j] = es[rng.IntN(len(es))].l
		}
		p := progOf(f)
		if cs, ok := genCases(rng, cfg.Cases, f.name, len(f.params), p, p, false); ok {
			cases[f.name] = cs
			return
		}
	}
	genPlain(rng, cfg, f, cases)
}

// genPlain draws a tested function that calls nothing, with its cases.
func genPlain(rng *rand.Rand, cfg Config, f *gfunc, cases map[string][]Case) {
	for range 10000 {
		genFunc(rng, cfg, f, nil)
		p := progOf(f)
		if cs, ok := genCases(rng, cfg.Cases, f.name, len(f.params), p, p, false); ok {
			cases[f.name] = cs
			return
		}
	}
	panic(fmt.Sprintf("sim: no function with %d cases in range after 10000 draws", cfg.Cases))
}

// genFunc draws f's parameters and body; a function on the call chain calls callee on
// one of its lines.
func genFunc(rng *rand.Rand, cfg Config, f, callee *gfunc) {
	f.params = paramNames[:1+rng.IntN(len(paramNames))]
	n := 1 + rng.IntN(cfg.BodyLines)
	callAt := -1
	if callee != nil {
		callAt = rng.IntN(n)
	}
	scope := append([]string(nil), f.params...)
	last := ""
	pickVar := func() atom { return atom{name: scope[rng.IntN(len(scope))]} }
	f.body = make([]line, 0, n)
	for i := range n {
		var l line
		if i == callAt {
			l.fn = callee.name
			for range callee.params {
				a := pickVar()
				if rng.IntN(6) == 0 {
					a = atom{n: 1 + rng.IntN(9)}
				}
				l.args = append(l.args, a)
			}
		} else {
			l.op = pickOp(rng)
			x := pickVar()
			if last != "" {
				x = atom{name: last} // chain the lines, so that every line matters
			}
			y := pickVar()
			if rng.IntN(2) == 0 {
				hi := 9
				if l.op == "*" {
					hi = 3
				}
				y = atom{n: 1 + rng.IntN(hi)}
			}
			if l.op != "-" && rng.IntN(2) == 0 {
				x, y = y, x
			}
			l.args = []atom{x, y}
		}
		if i == n-1 {
			l.kind = lineReturn
		} else {
			l.kind, l.name = lineAssign, localNames[i]
			scope = append(scope, l.name)
			last = l.name
		}
		f.body = append(f.body, l)
	}
}

func pickOp(rng *rand.Rand) string {
	switch r := rng.IntN(10); {
	case r < 4:
		return "+"
	case r < 7:
		return "-"
	}
	return "*"
}

// genCases draws n distinct calls of fn with arguments 0 … 9 whose correct results
// lie in 0 … 99 and are not all equal; for the issue's function at least one case
// must fail on the buggy program.
func genCases(rng *rand.Rand, n int, fn string, arity int, gold, bug program, mustFail bool) ([]Case, bool) {
	for range 20 {
		var cases []Case
		var seen [1000]bool // arguments 0 … 9, at most three of them
		for try := 0; len(cases) < n && try < 100; try++ {
			args := make([]int, arity)
			key := 0
			for i := range args {
				args[i] = rng.IntN(10)
				key = key*10 + args[i]
			}
			if seen[key] {
				continue
			}
			v, err := gold.call(fn, args)
			if err != nil || v < 0 || v > maxNumber {
				continue
			}
			seen[key] = true
			cases = append(cases, Case{Args: args, Want: v})
		}
		if len(cases) < n {
			return nil, false // the function's values are mostly out of range
		}
		distinct, fails := false, !mustFail
		for _, c := range cases {
			distinct = distinct || c.Want != cases[0].Want
			if v, err := bug.call(fn, c.Args); err != nil || v != c.Want {
				fails = true
			}
		}
		if (distinct || n == 1) && fails {
			return cases, true
		}
	}
	return nil, false
}
