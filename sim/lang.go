package sim

import (
	"errors"
	"sort"
	"strconv"
	"strings"
)

// The language of SimSWE repositories: every line is words separated by single spaces.
//
//	def f7 ( a , b ) :      a function with parameters from a, b, c
//	t = a * 2               assign one of a, b, c, t, u, v, w
//	u = f3 ( t , 4 )        call another function (atoms as arguments)
//	return u - b            return; the function ends here
//
// An expression is an atom (a variable or a non-negative integer), two atoms joined by
// one of + - *, or a call. Values are integers, saturated at ±valueLimit; a reply
// renders a value as its number in 0..maxNumber, "big" above and "neg" below.

const (
	maxNumber  = 99        // the largest number word
	valueLimit = 1_000_000 // values saturate here, so nothing overflows
	maxDepth   = 16        // call depth before a run is an error (recursion)
)

var (
	paramNames = []string{"a", "b", "c"}
	localNames = []string{"t", "u", "v", "w"}
	opWords    = []string{"+", "-", "*"}
)

// varSlot maps a variable name to its slot in an env, -1 for a non-variable.
func varSlot(w string) int {
	switch w {
	case "a":
		return 0
	case "b":
		return 1
	case "c":
		return 2
	case "t":
		return 3
	case "u":
		return 4
	case "v":
		return 5
	case "w":
		return 6
	}
	return -1
}

func isVar(w string) bool { return varSlot(w) >= 0 }

func isOp(w string) bool { return w == "+" || w == "-" || w == "*" }

// isFuncName reports whether w is f followed by a decimal number (f0, f17).
func isFuncName(w string) bool {
	if len(w) < 2 || w[0] != 'f' {
		return false
	}
	n, err := strconv.Atoi(w[1:])
	return err == nil && n >= 0 && strconv.Itoa(n) == w[1:]
}

// atom is a variable or a non-negative integer constant.
type atom struct {
	name string // the variable; "" for a constant
	n    int
}

func parseAtom(w string) (atom, bool) {
	if isVar(w) {
		return atom{name: w}, true
	}
	n, err := strconv.Atoi(w)
	if err != nil || n < 0 || strconv.Itoa(n) != w {
		return atom{}, false
	}
	return atom{n: n}, true
}

func (a atom) String() string {
	if a.name != "" {
		return a.name
	}
	return strconv.Itoa(a.n)
}

type lineKind uint8

const (
	lineDef lineKind = iota
	lineAssign
	lineReturn
)

// line is one parsed line. An expression is a call when fn is set, else args[0] alone
// or args[0] op args[1].
type line struct {
	kind   lineKind
	name   string   // def: the function; assign: the target variable
	params []string // def
	fn     string
	args   []atom
	op     string
}

var errSyntax = errors.New("syntax error")

// parseLine parses one non-empty line of the language.
func parseLine(text string) (line, error) {
	w := strings.Fields(text)
	switch {
	case len(w) == 0:
		return line{}, errSyntax
	case w[0] == "def":
		return parseDef(w)
	case w[0] == "return":
		l, err := parseExpr(w[1:])
		l.kind = lineReturn
		return l, err
	case len(w) >= 3 && isVar(w[0]) && w[1] == "=":
		l, err := parseExpr(w[2:])
		l.kind, l.name = lineAssign, w[0]
		return l, err
	}
	return line{}, errSyntax
}

func parseDef(w []string) (line, error) {
	// def NAME ( [p {, p}] ) :
	if len(w) < 5 || !isFuncName(w[1]) || w[2] != "(" || w[len(w)-2] != ")" || w[len(w)-1] != ":" {
		return line{}, errSyntax
	}
	ps, ok := parseList(w[3 : len(w)-2])
	if !ok {
		return line{}, errSyntax
	}
	l := line{kind: lineDef, name: w[1]}
	for _, p := range ps {
		if !isVar(p) {
			return line{}, errSyntax
		}
		for _, q := range l.params {
			if q == p {
				return line{}, errSyntax
			}
		}
		l.params = append(l.params, p)
	}
	return l, nil
}

// parseList splits "x , y , z" (or nothing) into its items.
func parseList(w []string) ([]string, bool) {
	if len(w) == 0 {
		return nil, true
	}
	if len(w)%2 == 0 {
		return nil, false
	}
	items := make([]string, 0, (len(w)+1)/2)
	for i, s := range w {
		if i%2 == 1 {
			if s != "," {
				return nil, false
			}
			continue
		}
		items = append(items, s)
	}
	return items, true
}

func parseExpr(w []string) (line, error) {
	switch {
	case len(w) == 1:
		a, ok := parseAtom(w[0])
		if !ok {
			return line{}, errSyntax
		}
		return line{args: []atom{a}}, nil
	case len(w) == 3 && isOp(w[1]):
		x, ok1 := parseAtom(w[0])
		y, ok2 := parseAtom(w[2])
		if !ok1 || !ok2 {
			return line{}, errSyntax
		}
		return line{args: []atom{x, y}, op: w[1]}, nil
	case len(w) >= 3 && isFuncName(w[0]) && w[1] == "(" && w[len(w)-1] == ")":
		items, ok := parseList(w[2 : len(w)-1])
		if !ok {
			return line{}, errSyntax
		}
		l := line{fn: w[0], args: make([]atom, 0, len(items))}
		for _, s := range items {
			a, ok := parseAtom(s)
			if !ok {
				return line{}, errSyntax
			}
			l.args = append(l.args, a)
		}
		return l, nil
	}
	return line{}, errSyntax
}

// String renders the line in the language's canonical spelling.
func (l line) String() string {
	var b strings.Builder
	switch l.kind {
	case lineDef:
		b.WriteString("def " + l.name + " (")
		for i, p := range l.params {
			if i > 0 {
				b.WriteString(" ,")
			}
			b.WriteString(" " + p)
		}
		b.WriteString(" ) :")
		return b.String()
	case lineAssign:
		b.WriteString(l.name + " = ")
	case lineReturn:
		b.WriteString("return ")
	}
	switch {
	case l.fn != "":
		b.WriteString(l.fn + " (")
		for i, a := range l.args {
			if i > 0 {
				b.WriteString(" ,")
			}
			b.WriteString(" " + a.String())
		}
		b.WriteString(" )")
	case l.op != "":
		b.WriteString(l.args[0].String() + " " + l.op + " " + l.args[1].String())
	default:
		b.WriteString(l.args[0].String())
	}
	return b.String()
}

// clone returns a copy of l that shares nothing with it.
func (l line) clone() line {
	l.params = append([]string(nil), l.params...)
	l.args = append([]atom(nil), l.args...)
	return l
}

// function is a parsed function. A broken one (a line of its body does not parse)
// fails every call.
type function struct {
	name   string
	params []string
	body   []line
	file   string
	at     int // line number of the def, from 1
	broken bool
}

// program maps function names to functions.
type program map[string]*function

// splitLines splits a file into its lines (a final newline ends the last line).
func splitLines(text string) []string {
	if text == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n")
}

// parseProgram parses every .py file, in name order; a later definition of a name
// replaces an earlier one. A non-empty line before a file's first def breaks every
// function of that file.
func parseProgram(files map[string]string) program {
	names := make([]string, 0, len(files))
	for n := range files {
		if strings.HasSuffix(n, ".py") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	p := program{}
	for _, n := range names {
		parseFile(p, n, files[n])
	}
	return p
}

func parseFile(p program, name, text string) {
	var (
		cur     *function
		defined []*function
		stray   bool
	)
	for i, s := range splitLines(text) {
		if strings.TrimSpace(s) == "" {
			continue
		}
		l, err := parseLine(s)
		switch {
		case err == nil && l.kind == lineDef:
			cur = &function{name: l.name, params: l.params, file: name, at: i + 1}
			defined = append(defined, cur)
			p[l.name] = cur
		case cur == nil:
			stray = true
		case err != nil:
			cur.broken = true
		default:
			cur.body = append(cur.body, l)
		}
	}
	if stray {
		for _, f := range defined {
			f.broken = true
		}
	}
}

// errRun is any failure of a call: unknown or broken function, wrong arity, unset
// variable, no return, recursion too deep.
var errRun = errors.New("error")

type env struct {
	set [7]bool
	v   [7]int
}

func (e *env) get(a atom) (int, error) {
	if a.name == "" {
		return a.n, nil
	}
	i := varSlot(a.name)
	if !e.set[i] {
		return 0, errRun
	}
	return e.v[i], nil
}

func saturate(v int) int { return max(-valueLimit, min(valueLimit, v)) }

// call runs function name on args.
func (p program) call(name string, args []int) (int, error) { return p.callAt(name, args, 0) }

func (p program) callAt(name string, args []int, depth int) (int, error) {
	f := p[name]
	if f == nil || f.broken || len(args) != len(f.params) || depth > maxDepth {
		return 0, errRun
	}
	var e env
	for i, pn := range f.params {
		s := varSlot(pn)
		e.set[s], e.v[s] = true, saturate(args[i])
	}
	for _, l := range f.body {
		if l.kind == lineDef {
			return 0, errRun
		}
		v, err := p.eval(&e, l, depth)
		if err != nil {
			return 0, err
		}
		if l.kind == lineReturn {
			return v, nil
		}
		s := varSlot(l.name)
		e.set[s], e.v[s] = true, v
	}
	return 0, errRun
}

func (p program) eval(e *env, l line, depth int) (int, error) {
	if l.fn != "" {
		args := make([]int, len(l.args))
		for i, a := range l.args {
			v, err := e.get(a)
			if err != nil {
				return 0, err
			}
			args[i] = v
		}
		return p.callAt(l.fn, args, depth+1)
	}
	x, err := e.get(l.args[0])
	if err != nil || l.op == "" {
		return x, err
	}
	y, err := e.get(l.args[1])
	if err != nil {
		return 0, err
	}
	switch l.op {
	case "+":
		return saturate(x + y), nil
	case "-":
		return saturate(x - y), nil
	default:
		return saturate(x * y), nil
	}
}

// valueWord renders a value as a word of the vocabulary.
func valueWord(v int) string {
	switch {
	case v < 0:
		return wordNeg
	case v > maxNumber:
		return wordBig
	}
	return strconv.Itoa(v)
}
