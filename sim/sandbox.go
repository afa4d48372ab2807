package sim

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/swerl/swerl/sandbox"
)

// Root is the repository's directory in every sim sandbox.
const Root = "/sim"

// maxGrepHits caps grep's output; a line says when more matched.
const maxGrepHits = 20

// Exit codes of the sim commands, a shell's conventions.
const (
	exitOK       = 0
	exitFail     = 1 // failing tests, no grep match, an error
	exitUsage    = 2
	exitNotFound = 127
)

var errClosed = errors.New("sim sandbox closed")

// Sandbox is an in-memory repository of one task implementing sandbox.Sandbox. Exec
// interprets the sim's commands (not bash):
//
//	ls                        the files, one per line
//	run_tests                 every test, passing functions first: "ok f2"; then for a failing
//	                          one each case, "FAIL f7 ( 3 , 4 ) gave 12 want 7" or
//	                          "ok f7 ( 1 , 1 ) gave 3 want 3"; then "1 failed 18 passed"
//	grep TEXT…                lines holding TEXT, as "FILE N : line" (at most 20)
//	show FILE [LINE]          ShowWindow lines from LINE (clamped to the file), as "N : line"
//	fix FILE LINE TEXT…       replace line LINE by TEXT (which must parse); shows the place
//
// Exit codes follow a shell's: 0, 1 for failing tests, no match or an error, 2 for a
// usage error, 127 for an unknown command (submit included: the engine handles it).
// Errors of the agent (unknown commands, bad arguments) are observations with a
// non-zero exit code, never Go errors. Methods are safe for concurrent use.
type Sandbox struct {
	mu     sync.Mutex
	base   map[string]string // shared with the Task, never written
	files  map[string]string
	tests  []Test
	window int
	gold   map[string]string // non-nil: failing reports carry a trace line
	closed bool
}

// NewSandbox returns a fresh sandbox holding the task's repository.
func (t Task) NewSandbox() *Sandbox {
	s := &Sandbox{base: t.files, files: maps.Clone(t.files), tests: t.tests, window: t.window}
	if t.trace {
		s.gold = t.gold
	}
	return s
}

// Root implements sandbox.Sandbox.
func (s *Sandbox) Root() string { return Root }

func (s *Sandbox) enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed {
		return sandbox.Died(errClosed)
	}
	return nil
}

// rel maps a path (relative to Root, or absolute under it) to a file key.
func rel(p string) (string, bool) {
	if strings.HasPrefix(p, "/") {
		if !strings.HasPrefix(p, Root+"/") {
			return "", false
		}
		p = p[len(Root)+1:]
	}
	p = path.Clean(p)
	if p == "." || p == ".." || strings.HasPrefix(p, "../") || strings.HasPrefix(p, "/") {
		return "", false
	}
	return p, true
}

// ReadFile implements sandbox.Sandbox.
func (s *Sandbox) ReadFile(ctx context.Context, name string, limit int64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	key, ok := rel(name)
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	text, ok := s.files[key]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if int64(len(text)) > limit {
		return []byte(text[:max(limit, 0)]), fmt.Errorf("%s: %d bytes, limit %d: %w", name, len(text), limit, sandbox.ErrTooLarge)
	}
	return []byte(text), nil
}

// WriteFile implements sandbox.Sandbox.
func (s *Sandbox) WriteFile(ctx context.Context, name string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(ctx); err != nil {
		return err
	}
	key, ok := rel(name)
	if !ok {
		return &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	s.files[key] = string(data)
	return nil
}

// Diff implements sandbox.Sandbox: a unified diff without context lines (git diff
// -U0 style) of every changed file, "" when nothing changed.
func (s *Sandbox) Diff(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(ctx); err != nil {
		return "", err
	}
	return unifiedDiff(s.base, s.files), nil
}

// Close implements sandbox.Sandbox.
func (s *Sandbox) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// Exec implements sandbox.Sandbox with the sim's commands.
func (s *Sandbox) Exec(ctx context.Context, command string) (sandbox.Output, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(ctx); err != nil {
		return sandbox.Output{}, err
	}
	text, code := s.exec(strings.Fields(command))
	return sandbox.Output{Text: text, ExitCode: code}, nil
}

func (s *Sandbox) exec(w []string) (string, int) {
	if len(w) == 0 {
		return "", exitOK
	}
	switch w[0] {
	case cmdLs:
		if len(w) != 1 {
			return usageLs, exitUsage
		}
		return strings.Join(slices.Sorted(maps.Keys(s.files)), "\n"), exitOK
	case cmdRunTests:
		if len(w) != 1 {
			return usageRunTests, exitUsage
		}
		report, failed := runTests(parseProgram(s.files), s.tests)
		if len(failed) > 0 {
			if tr, ok := traceLine(s.gold, s.files); ok {
				// After the summary line: the last thing a reader sees.
				report += "\n" + tr
			}
			return report, exitFail
		}
		return report, exitOK
	case cmdGrep:
		if len(w) < 2 {
			return usageGrep, exitUsage
		}
		return s.grep(strings.Join(w[1:], " "))
	case cmdShow:
		if len(w) < 2 || len(w) > 3 {
			return usageShow, exitUsage
		}
		at := 1
		if len(w) == 3 {
			n, err := strconv.Atoi(w[2])
			if err != nil {
				return usageShow, exitUsage
			}
			at = n
		}
		lines, ok := s.lines(w[1])
		if !ok {
			return obsNoSuchFile, exitFail
		}
		return window(lines, at, s.window), exitOK
	case cmdFix:
		return s.fix(w)
	}
	return obsNotFound, exitNotFound
}

// traceLine points at the first line of files that differs from gold (files in
// name order, missing lines empty) and says what it should be, in two lines:
//
//	trace mod1.py 14 return t + 6
//	want mod1.py 14 return u + 6
//
// Files gold does not have are not compared. ok is false when gold is nil or nothing
// differs.
func traceLine(gold, files map[string]string) (string, bool) {
	if gold == nil {
		return "", false
	}
	for _, name := range slices.Sorted(maps.Keys(gold)) {
		want, have := splitLines(gold[name]), splitLines(files[name])
		for i := range max(len(want), len(have)) {
			w, h := "", ""
			if i < len(want) {
				w = plain(want[i])
			}
			if i < len(have) {
				h = plain(have[i])
			}
			if w == h {
				continue
			}
			at := name + " " + strconv.Itoa(i+1)
			return strings.TrimSpace(wordTrace+" "+at+" "+h) + "\n" + strings.TrimSpace(wordWant+" "+at+" "+w), true
		}
	}
	return "", false
}

// lines returns the lines of a file.
func (s *Sandbox) lines(name string) ([]string, bool) {
	key, ok := rel(name)
	if !ok {
		return nil, false
	}
	text, ok := s.files[key]
	return splitLines(text), ok
}

func (s *Sandbox) grep(query string) (string, int) {
	var hits []string
	more := false
	for _, name := range slices.Sorted(maps.Keys(s.files)) {
		for i, l := range splitLines(s.files[name]) {
			l = plain(l)
			if !strings.Contains(l, query) {
				continue
			}
			if len(hits) == maxGrepHits {
				more = true
				break
			}
			hits = append(hits, numbered(name+" "+strconv.Itoa(i+1), l))
		}
	}
	if len(hits) == 0 {
		return obsNoMatches, exitFail
	}
	if more {
		hits = append(hits, obsMoreMatches)
	}
	return strings.Join(hits, "\n"), exitOK
}

func (s *Sandbox) fix(w []string) (string, int) {
	if len(w) < 4 {
		return usageFix, exitUsage
	}
	n, err := strconv.Atoi(w[2])
	if err != nil {
		return usageFix, exitUsage
	}
	key, ok := rel(w[1])
	text, exists := s.files[key]
	if !ok || !exists {
		return obsNoSuchFile, exitFail
	}
	lines := splitLines(text)
	if n < 1 || n > len(lines) {
		return obsNoSuchLine, exitFail
	}
	repl := strings.Join(w[3:], " ")
	if _, err := parseLine(repl); err != nil {
		return obsSyntaxError, exitFail
	}
	lines[n-1] = repl
	s.files[key] = strings.Join(lines, "\n") + "\n"
	return window(lines, n-2, s.window), exitOK
}

// window renders size lines from line at (clamped to the file) as "N : line".
func window(lines []string, at, size int) string {
	if len(lines) == 0 {
		return ""
	}
	at = max(1, min(at, len(lines)))
	end := min(len(lines), at+size-1)
	out := make([]string, 0, end-at+1)
	for n := at; n <= end; n++ {
		out = append(out, numbered(strconv.Itoa(n), plain(lines[n-1])))
	}
	return strings.Join(out, "\n")
}

func numbered(prefix, text string) string {
	if text == "" {
		return prefix + " :"
	}
	return prefix + " : " + text
}

// plain normalises a line to words separated by single spaces.
func plain(s string) string { return strings.Join(strings.Fields(s), " ") }

// Factory starts sim sandboxes for a fixed set of tasks. Start may be called
// concurrently.
type Factory struct {
	tasks map[string]Task
}

// NewFactory returns a factory serving tasks (by ID).
func NewFactory(tasks []Task) *Factory {
	m := make(map[string]Task, len(tasks))
	for _, t := range tasks {
		m[t.ID] = t
	}
	return &Factory{tasks: m}
}

// Start implements sandbox.Factory. A task it does not know is a permanent error.
func (f *Factory) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Sandbox, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, ok := f.tasks[spec.Task.ID]
	if !ok {
		return nil, fmt.Errorf("sim: no task %q: %w", spec.Task.ID, sandbox.ErrPermanent)
	}
	return t.NewSandbox(), nil
}

var (
	_ sandbox.Sandbox = (*Sandbox)(nil)
	_ sandbox.Factory = (*Factory)(nil)
)
