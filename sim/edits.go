package sim

// edit is one small change of a line: a bug when the generator applies it to a
// correct line, a candidate fix when the Expert applies it to a buggy one. The kinds
// are closed under inversion: every bug is undone by an edit of the same kind.
type edit struct {
	kind BugKind
	l    line
}

// edits returns every one-edit variant of l (scope: the variables set before it),
// each different from l, in a fixed order.
func edits(l line, scope []string) []edit {
	if l.kind == lineDef {
		return nil
	}
	var out []edit
	was := l.String()
	add := func(k BugKind, m line) {
		if m.String() != was {
			out = append(out, edit{kind: k, l: m})
		}
	}
	if l.op != "" {
		for _, op := range opWords {
			if op != l.op {
				m := l.clone()
				m.op = op
				add(OpSwap, m)
			}
		}
	}
	for i, a := range l.args {
		if a.name != "" {
			continue
		}
		for _, d := range []int{-1, 1} {
			if n := a.n + d; n >= 0 && n <= maxNumber {
				m := l.clone()
				m.args[i].n = n
				add(OffByOne, m)
			}
		}
	}
	switch {
	case l.op == "-":
		m := l.clone()
		m.args[0], m.args[1] = m.args[1], m.args[0]
		add(SwapOperands, m)
	case l.fn != "":
		for i := range l.args {
			for j := i + 1; j < len(l.args); j++ {
				m := l.clone()
				m.args[i], m.args[j] = m.args[j], m.args[i]
				add(SwapOperands, m)
			}
		}
	}
	for i, a := range l.args {
		if a.name == "" {
			continue
		}
		for _, v := range scope {
			if v != a.name {
				m := l.clone()
				m.args[i] = atom{name: v}
				add(WrongVariable, m)
			}
		}
	}
	return out
}

// scopeAt returns the variables set before body line j: the parameters, then the
// targets of earlier assignments (each once).
func scopeAt(params []string, body []line, j int) []string {
	scope := append([]string(nil), params...)
	for _, l := range body[:j] {
		if l.kind != lineAssign {
			continue
		}
		dup := false
		for _, s := range scope {
			dup = dup || s == l.name
		}
		if !dup {
			scope = append(scope, l.name)
		}
	}
	return scope
}
