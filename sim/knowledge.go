package sim

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/swerl/swerl/messages"
)

// knowledge is what a policy can tell about the repository from a transcript: the
// lines it has seen (latest text wins), the latest test report, and whether a fix came
// after it. It reads only commands and observations, never the task's hidden fields.
type knowledge struct {
	code     map[string]map[int]string // file -> line number -> text
	report   *report                   // the latest run_tests report, nil if none
	reportAt int                       // its turn position, -1 if none
	fixAt    int                       // the latest successful fix, -1 if none
	files    []string                  // from the latest ls
}

// report is a parsed run_tests observation.
type report struct {
	failing []string
	cases   map[string][]Case // every case of each failing function
	trace   *trace            // the report's trace line (Config.Trace), nil if none
}

// trace is a parsed trace line: line n of file should be want.
type trace struct {
	file string
	n    int
	want string
}

func learn(turns []messages.Turn) *knowledge {
	k := &knowledge{code: map[string]map[int]string{}, reportAt: -1, fixAt: -1}
	for i, t := range turns {
		if t.FormatError != "" || t.TimedOut {
			continue
		}
		cw := strings.Fields(t.Command)
		if len(cw) == 0 || failed(t.Observation) {
			continue
		}
		switch cw[0] {
		case cmdRunTests:
			if r, ok := parseReport(t.Observation); ok && len(cw) == 1 {
				k.report, k.reportAt = r, i
			}
		case cmdLs:
			if len(cw) == 1 {
				k.files = strings.Split(t.Observation, "\n")
			}
		case cmdGrep:
			for _, l := range strings.Split(t.Observation, "\n") {
				w := strings.Fields(l)
				if len(w) >= 3 && w[2] == ":" {
					if n, err := strconv.Atoi(w[1]); err == nil {
						k.see(w[0], n, strings.Join(w[3:], " "))
					}
				}
			}
		case cmdShow, cmdFix:
			if len(cw) < 2 {
				continue
			}
			file, ok := rel(cw[1])
			if !ok {
				continue
			}
			for _, l := range strings.Split(t.Observation, "\n") {
				w := strings.Fields(l)
				if len(w) >= 2 && w[1] == ":" {
					if n, err := strconv.Atoi(w[0]); err == nil {
						k.see(file, n, strings.Join(w[2:], " "))
					}
				}
			}
			if cw[0] == cmdFix {
				k.fixAt = i
			}
		}
	}
	return k
}

// failed reports whether an observation is an error of the command itself.
func failed(obs string) bool {
	w := strings.Fields(obs)
	return len(w) == 0 || w[0] == wordError || w[0] == "usage" || obs == obsNoMatches
}

func (k *knowledge) see(file string, n int, text string) {
	m := k.code[file]
	if m == nil {
		m = map[int]string{}
		k.code[file] = m
	}
	m[n] = text
}

// parseReport parses a run_tests observation (see runTests).
func parseReport(obs string) (*report, bool) {
	lines := strings.Split(obs, "\n")
	r := &report{cases: map[string][]Case{}}
	// A trace (Config.Trace) follows the summary line: trace FILE N [TEXT], then
	// want FILE N [TEXT].
	if n := len(lines); n >= 3 {
		tw, ww := strings.Fields(lines[n-2]), strings.Fields(lines[n-1])
		if len(tw) >= 3 && tw[0] == wordTrace && len(ww) >= 3 && ww[0] == wordWant {
			if at, err := strconv.Atoi(ww[2]); err == nil {
				r.trace = &trace{file: ww[1], n: at, want: strings.Join(ww[3:], " ")}
				lines = lines[:n-2]
			}
		}
	}
	if !strings.HasSuffix(lines[len(lines)-1], wordPassed) {
		return nil, false
	}
	for _, l := range lines[:len(lines)-1] {
		w := strings.Fields(l)
		// STATUS F ( x , y ) gave X want Y
		if len(w) < 8 || (w[0] != wordOK && w[0] != wordFail) || w[2] != "(" {
			continue
		}
		end := slices.Index(w, ")")
		if end < 0 || end+4 >= len(w) || w[end+1] != wordGave || w[end+3] != wordWant {
			continue
		}
		items, ok := parseList(w[3:end])
		want, err := strconv.Atoi(w[end+4])
		if !ok || err != nil {
			continue
		}
		c := Case{Want: want}
		for _, s := range items {
			v, err := strconv.Atoi(s)
			if err != nil {
				ok = false
			}
			c.Args = append(c.Args, v)
		}
		if !ok {
			continue
		}
		fn := w[1]
		if _, seen := r.cases[fn]; !seen {
			r.failing = append(r.failing, fn)
		}
		r.cases[fn] = append(r.cases[fn], c)
	}
	return r, true
}

// findDef returns where the first known definition of name is.
func (k *knowledge) findDef(name string) (string, int, bool) {
	for _, file := range slices.Sorted(maps.Keys(k.code)) {
		for _, n := range slices.Sorted(maps.Keys(k.code[file])) {
			w := strings.Fields(k.code[file][n])
			if len(w) >= 3 && w[0] == "def" && w[1] == name && w[2] == "(" {
				return file, n, true
			}
		}
	}
	return "", 0, false
}

// seenFunc is a function read from the transcript with the line number of each body
// line.
type seenFunc struct {
	fn    *function
	lines []int
}

// need is the next command that would teach a policy something it lacks.
type need struct{ reason, command string }

// readFunc assembles a known function, or says what to look at to know it.
func (k *knowledge) readFunc(name, caller string) (seenFunc, *need) {
	file, at, ok := k.findDef(name)
	if !ok {
		reason := fill(reasonFind, map[string]string{"F": name})
		if caller != "" {
			reason = fill(reasonFindCallee, map[string]string{"F": caller, "G": name})
		}
		return seenFunc{}, &need{reason, cmdGrep + " def " + name + " ("}
	}
	def, err := parseLine(k.code[file][at])
	if err != nil {
		return seenFunc{}, &need{fill(reasonFind, map[string]string{"F": name}), cmdGrep + " def " + name + " ("}
	}
	sf := seenFunc{fn: &function{name: name, params: def.params, file: file, at: at}}
	for n := at + 1; ; n++ {
		text, ok := k.code[file][n]
		if !ok {
			show := n
			if n == at+1 {
				show = at
			}
			return seenFunc{}, &need{fill(reasonRead, map[string]string{"F": name}), cmdShow + " " + file + " " + strconv.Itoa(show)}
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		l, err := parseLine(text)
		if err != nil {
			sf.fn.broken = true
			continue
		}
		if l.kind == lineDef {
			return sf, nil
		}
		sf.fn.body = append(sf.fn.body, l)
		sf.lines = append(sf.lines, n)
		if l.kind == lineReturn {
			return sf, nil
		}
	}
}
