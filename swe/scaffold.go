package swe

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/swerl/swerl/sandbox"
)

// ScaffoldConfig sets the scaffold's limits. PAPER.md gives none of them; these are
// swerl's defaults.
type ScaffoldConfig struct {
	ObservationCap int   // characters of one observation kept, head and tail (default 16,384)
	WindowLines    int   // lines shown by open, goto and the scroll commands (default 100)
	FileLimit      int64 // largest file the editor tools read (default 4 MiB)
}

// DefaultScaffoldConfig returns the defaults.
func DefaultScaffoldConfig() ScaffoldConfig {
	return ScaffoldConfig{ObservationCap: 16 << 10, WindowLines: 100, FileLimit: 4 << 20}
}

func (c ScaffoldConfig) withDefaults() ScaffoldConfig {
	d := DefaultScaffoldConfig()
	if c.ObservationCap <= 0 {
		c.ObservationCap = d.ObservationCap
	}
	if c.WindowLines <= 0 {
		c.WindowLines = d.WindowLines
	}
	if c.FileLimit <= 0 {
		c.FileLimit = d.FileLimit
	}
	return c
}

// ScaffoldFactory wraps the agent's sandboxes of Inner in the scaffold (a Session);
// grader sandboxes pass through untouched.
type ScaffoldFactory struct {
	Inner  sandbox.Factory
	Config ScaffoldConfig
}

// Start implements sandbox.Factory.
func (f ScaffoldFactory) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Sandbox, error) {
	sb, err := f.Inner.Start(ctx, spec)
	if err != nil || spec.Purpose == sandbox.ForGrade {
		return sb, err
	}
	return NewSession(sb, f.Config), nil
}

// Session is the SWE-agent scaffold over one sandbox: it runs shell commands with a
// tracked working directory, implements the file tools (create, open, goto,
// scroll_up, scroll_down, edit, replace, search_file) over the sandbox's file
// primitives, so that every backend has them, caps observations and ends each with
// the prompt line. It is itself a sandbox.Sandbox and a sandbox.Prompter.
type Session struct {
	sb     sandbox.Sandbox
	cfg    ScaffoldConfig
	marker string // ends a shell command's output with its working directory
	cwd    string
	file   string // open file (absolute), "" when none
	first  int    // first line of the window, 1-based
}

// NewSession wraps sb.
func NewSession(sb sandbox.Sandbox, cfg ScaffoldConfig) *Session {
	return &Session{sb: sb, cfg: cfg.withDefaults(), marker: "__swerl_cwd_" + rand.Text() + "__", cwd: sb.Root(), first: 1}
}

// Root implements sandbox.Sandbox.
func (s *Session) Root() string { return s.sb.Root() }

// Prompt is the line that ends every observation.
func (s *Session) Prompt() string {
	file := "n/a"
	if s.file != "" {
		file = s.file
	}
	return fmt.Sprintf("(Current directory: %s, current file: %s) bash-$", s.cwd, file)
}

// ReadFile, WriteFile, Diff and Close pass through.
func (s *Session) ReadFile(ctx context.Context, p string, limit int64) ([]byte, error) {
	return s.sb.ReadFile(ctx, s.abs(p), limit)
}

func (s *Session) WriteFile(ctx context.Context, p string, data []byte) error {
	return s.sb.WriteFile(ctx, s.abs(p), data)
}

func (s *Session) Diff(ctx context.Context) (string, error) { return s.sb.Diff(ctx) }
func (s *Session) Close(ctx context.Context) error          { return s.sb.Close(ctx) }

// Exec runs one agent command and returns the observation: the (capped) output, then
// the prompt line. A command cut off by ctx's deadline becomes an observation saying
// so (TimedOut); cancellation and a broken sandbox are returned as errors.
func (s *Session) Exec(ctx context.Context, command string) (sandbox.Output, error) {
	begin := time.Now()
	body, code, err := s.dispatch(ctx, command)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, sandbox.ErrDied) {
			note := fmt.Sprintf("[command timed out after %s and was killed]", time.Since(begin).Round(time.Millisecond))
			return sandbox.Output{Text: s.observe(s.capText(body)+"\n"+note, false), ExitCode: -1, TimedOut: true}, nil
		}
		return sandbox.Output{Text: body}, err
	}
	return sandbox.Output{Text: s.observe(s.capText(body), true), ExitCode: code}, nil
}

func (s *Session) observe(body string, sayEmpty bool) string {
	if strings.TrimSpace(body) == "" && sayEmpty {
		body = "Your command ran successfully and did not produce any output."
	}
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	return body + s.Prompt()
}

// capText keeps the first and last halves of the cap, with a notice in between.
func (s *Session) capText(text string) string {
	limit := s.cfg.ObservationCap
	if len(text) <= limit {
		return text
	}
	head, tail := limit/2, limit-limit/2
	return fmt.Sprintf("%s\n[... observation truncated: %d of %d characters not shown (observation cap %d); narrow the command, e.g. with head, tail, grep or sed -n ...]\n%s",
		text[:head], len(text)-limit, len(text), limit, text[len(text)-tail:])
}

// dispatch runs a tool or a shell command. The error is non-nil only for a context
// that ended or a broken sandbox; a tool's own errors are observations.
func (s *Session) dispatch(ctx context.Context, command string) (string, int, error) {
	name, rest, _ := strings.Cut(command, "\n")
	name, args, _ := strings.Cut(strings.TrimSpace(name), " ")
	if rest != "" {
		args += "\n" + rest
	}
	switch name {
	case "create":
		return s.create(ctx, args)
	case "open":
		return s.open(ctx, args)
	case "goto":
		return s.gotoLine(ctx, args)
	case "scroll_up", "scroll_down":
		return s.scroll(ctx, name == "scroll_up", args)
	case "edit":
		return s.edit(ctx, command)
	case "replace":
		return s.replace(ctx, args)
	case "search_file":
		return s.searchFile(ctx, args)
	}
	return s.shell(ctx, command)
}

// shell runs command in bash from the tracked directory, and learns the directory it
// ended in from a marker line printed after it.
func (s *Session) shell(ctx context.Context, command string) (string, int, error) {
	script := fmt.Sprintf("cd %s 2>/dev/null || cd %s\n%s\n__swerl_status=$?\nprintf '\\n%s%%s\\n' \"$PWD\"\nexit $__swerl_status\n",
		sandbox.Quote(s.cwd), sandbox.Quote(s.Root()), command, s.marker)
	out, err := s.sb.Exec(ctx, script)
	text := out.Text
	if i := strings.LastIndex(text, "\n"+s.marker); i >= 0 {
		dir := strings.TrimSpace(text[i+1+len(s.marker):])
		if j := strings.IndexByte(dir, '\n'); j >= 0 {
			dir = dir[:j]
		}
		if strings.HasPrefix(dir, "/") {
			s.cwd = dir
		}
		text = text[:i]
	}
	return text, out.ExitCode, err
}

func (s *Session) abs(p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join(s.cwd, p)
}

// fileText is a file split into lines.
type fileText struct {
	lines []string
	nl    bool // ends with a newline (or is empty)
}

func splitLines(data string) fileText {
	if data == "" {
		return fileText{nl: true}
	}
	nl := strings.HasSuffix(data, "\n")
	return fileText{lines: strings.Split(strings.TrimSuffix(data, "\n"), "\n"), nl: nl}
}

func (f fileText) String() string {
	s := strings.Join(f.lines, "\n")
	if f.nl && len(f.lines) > 0 {
		s += "\n"
	}
	return s
}

// load reads a file for the editor tools. A problem with the file itself comes back
// as an observation (msg); err is for contexts and broken sandboxes.
func (s *Session) load(ctx context.Context, p string) (f fileText, msg string, err error) {
	data, err := s.sb.ReadFile(ctx, p, s.cfg.FileLimit)
	switch {
	case err == nil:
		return splitLines(string(data)), "", nil
	case ctx.Err() != nil || errors.Is(err, sandbox.ErrDied):
		return fileText{}, "", err
	case errors.Is(err, fs.ErrNotExist):
		return fileText{}, fmt.Sprintf("Error: File %s not found", p), nil
	case errors.Is(err, sandbox.ErrTooLarge):
		return fileText{}, fmt.Sprintf("Error: File %s is larger than %d bytes: the editor cannot open it; use head, sed -n or grep", p, s.cfg.FileLimit), nil
	default:
		return fileText{}, fmt.Sprintf("Error: cannot open %s: %v", p, err), nil
	}
}

func (s *Session) store(ctx context.Context, p string, f fileText) (msg string, err error) {
	err = s.sb.WriteFile(ctx, p, []byte(f.String()))
	switch {
	case err == nil:
		return "", nil
	case ctx.Err() != nil || errors.Is(err, sandbox.ErrDied):
		return "", err
	default:
		return fmt.Sprintf("Error: cannot write %s: %v", p, err), nil
	}
}

// window renders the open file around the current window.
func (s *Session) window(f fileText) string {
	n := len(f.lines)
	s.first = max(1, min(s.first, n-s.cfg.WindowLines+1))
	last := min(n, s.first+s.cfg.WindowLines-1)
	var b strings.Builder
	fmt.Fprintf(&b, "[File: %s (%d lines total)]\n", s.file, n)
	fmt.Fprintf(&b, "(%d more lines above)\n", s.first-1)
	for i := s.first; i <= last; i++ {
		fmt.Fprintf(&b, "%d:%s\n", i, f.lines[i-1])
	}
	fmt.Fprintf(&b, "(%d more lines below)", n-last)
	return b.String()
}

// center puts line in the middle of the window.
func (s *Session) center(line int) { s.first = max(1, line-s.cfg.WindowLines/2) }

func usage(u string) (string, int, error) { return "Usage: " + u, 2, nil }

func (s *Session) create(ctx context.Context, args string) (string, int, error) {
	words, err := splitWords(args)
	if err != nil || len(words) != 1 {
		return usage("create FILE")
	}
	p := s.abs(words[0])
	_, err = s.sb.ReadFile(ctx, p, 0)
	switch {
	case err == nil || errors.Is(err, sandbox.ErrTooLarge):
		return fmt.Sprintf("Error: File %s already exists", p), 1, nil
	case ctx.Err() != nil || errors.Is(err, sandbox.ErrDied):
		return "", 0, err
	}
	if msg, err := s.store(ctx, p, fileText{nl: true}); msg != "" || err != nil {
		return msg, 1, err
	}
	s.file, s.first = p, 1
	return s.window(fileText{nl: true}), 0, nil
}

func (s *Session) open(ctx context.Context, args string) (string, int, error) {
	words, err := splitWords(args)
	if err != nil || len(words) < 1 || len(words) > 2 {
		return usage("open FILE [LINE]")
	}
	line := 0
	if len(words) == 2 {
		if line, err = strconv.Atoi(words[1]); err != nil || line < 1 {
			return "Error: LINE must be a positive number", 2, nil
		}
	}
	p := s.abs(words[0])
	f, msg, err := s.load(ctx, p)
	if msg != "" || err != nil {
		return msg, 1, err
	}
	if line > max(1, len(f.lines)) {
		return fmt.Sprintf("Error: LINE %d is past the end of %s (%d lines)", line, p, len(f.lines)), 1, nil
	}
	s.file = p
	s.first = 1
	if line > 0 {
		s.center(line)
	}
	return s.window(f), 0, nil
}

func (s *Session) current(ctx context.Context) (fileText, string, error) {
	if s.file == "" {
		return fileText{}, "Error: no file open: use open FILE first", nil
	}
	return s.load(ctx, s.file)
}

func (s *Session) gotoLine(ctx context.Context, args string) (string, int, error) {
	line, err := strconv.Atoi(strings.TrimSpace(args))
	if err != nil || line < 1 {
		return usage("goto LINE")
	}
	f, msg, err := s.current(ctx)
	if msg != "" || err != nil {
		return msg, 1, err
	}
	if line > max(1, len(f.lines)) {
		return fmt.Sprintf("Error: LINE %d is past the end of %s (%d lines)", line, s.file, len(f.lines)), 1, nil
	}
	s.center(line)
	return s.window(f), 0, nil
}

func (s *Session) scroll(ctx context.Context, up bool, args string) (string, int, error) {
	if strings.TrimSpace(args) != "" {
		return usage("scroll_up | scroll_down (no arguments)")
	}
	f, msg, err := s.current(ctx)
	if msg != "" || err != nil {
		return msg, 1, err
	}
	if up {
		s.first -= s.cfg.WindowLines
	} else {
		s.first += s.cfg.WindowLines
	}
	return s.window(f), 0, nil
}

const editUsage = `edit [--file FILE] START:END followed by the replacement text on the next lines,
or as a heredoc: edit START:END <<'EOF' ... EOF. Lines START to END (1-based, inclusive)
are replaced; END = START-1 inserts before START; empty text deletes the lines.`

// edit replaces a line range of the open file (or --file) with the text that follows.
func (s *Session) edit(ctx context.Context, command string) (string, int, error) {
	head, body, _ := strings.Cut(command, "\n")
	words, err := splitWords(strings.TrimPrefix(strings.TrimSpace(head), "edit"))
	if err != nil {
		return usage(editUsage)
	}
	file := s.file
	var rng, delim string
	for i := 0; i < len(words); i++ {
		switch w := words[i]; {
		case w == "--file" && i+1 < len(words):
			file = s.abs(words[i+1])
			i++
		case strings.HasPrefix(w, "<<"):
			delim = strings.Trim(strings.TrimLeft(strings.TrimPrefix(w, "<<"), "-"), `'"`)
			if delim == "" && i+1 < len(words) {
				delim = words[i+1]
				i++
			}
		case rng == "":
			rng = w
		default:
			return usage(editUsage)
		}
	}
	a, b, ok := strings.Cut(rng, ":")
	start, err1 := strconv.Atoi(a)
	end, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return usage(editUsage)
	}
	text, ok := editText(body, delim)
	if !ok {
		return fmt.Sprintf("Error: the heredoc is not closed: end the text with a line holding only %s", delim), 2, nil
	}
	if file == "" {
		return "Error: no file open: use open FILE first, or edit --file FILE", 1, nil
	}
	f, msg, err := s.load(ctx, file)
	if msg != "" || err != nil {
		return msg, 1, err
	}
	n := len(f.lines)
	if start < 1 || start > n+1 || end < start-1 || end > n {
		return fmt.Sprintf("Error: range %d:%d is outside %s (%d lines): need 1 <= START <= %d and START-1 <= END <= %d", start, end, file, n, n+1, n), 1, nil
	}
	var repl []string
	if text != "" {
		repl = strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	}
	lines := make([]string, 0, n-(end-start+1)+len(repl))
	lines = append(append(append(lines, f.lines[:start-1]...), repl...), f.lines[end:]...)
	f.lines = lines
	if msg, err := s.store(ctx, file, f); msg != "" || err != nil {
		return msg, 1, err
	}
	s.file = file
	s.center(start)
	return s.window(f) + "\nFile updated. Review the lines above; edit again if they are wrong.", 0, nil
}

// editText takes the replacement text from the lines after the edit line: up to the
// heredoc delimiter if one was given, else up to an end_of_edit line (SWE-agent's
// terminator) or the end.
func editText(body, delim string) (string, bool) {
	term := delim
	if term == "" {
		term = "end_of_edit"
	}
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == term {
			return joinLines(lines[:i]), true
		}
	}
	if delim != "" {
		return "", false
	}
	return joinLines(lines), true
}

func joinLines(lines []string) string {
	if len(lines) == 0 || (len(lines) == 1 && lines[0] == "") {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

const replaceUsage = `replace [--replace-all] [--file FILE] SEARCH REPLACE (quote each; they may span lines)`

func (s *Session) replace(ctx context.Context, args string) (string, int, error) {
	words, err := splitWords(args)
	if err != nil {
		return fmt.Sprintf("Error: %v\nUsage: %s", err, replaceUsage), 2, nil
	}
	all, file := false, s.file
	var pos []string
	for i := 0; i < len(words); i++ {
		switch {
		case words[i] == "--replace-all":
			all = true
		case words[i] == "--file" && i+1 < len(words):
			file = s.abs(words[i+1])
			i++
		default:
			pos = append(pos, words[i])
		}
	}
	if len(pos) != 2 || pos[0] == "" {
		return usage(replaceUsage)
	}
	if file == "" {
		return "Error: no file open: use open FILE first, or replace --file FILE", 1, nil
	}
	f, msg, err := s.load(ctx, file)
	if msg != "" || err != nil {
		return msg, 1, err
	}
	text := f.String()
	count := countOverlapping(text, pos[0])
	switch {
	case count == 0:
		return fmt.Sprintf("Error: SEARCH text not found in %s", file), 1, nil
	case count > 1 && !all:
		return fmt.Sprintf("Error: SEARCH text found %d times in %s: add surrounding lines to make it unique, or use --replace-all", count, file), 1, nil
	}
	line := strings.Count(text[:strings.Index(text, pos[0])], "\n") + 1
	nf := splitLines(strings.ReplaceAll(text, pos[0], pos[1]))
	if msg, err := s.store(ctx, file, nf); msg != "" || err != nil {
		return msg, 1, err
	}
	s.file = file
	s.center(line)
	return fmt.Sprintf("Replaced %d occurrence(s).\n%s", count, s.window(nf)), 0, nil
}

// countOverlapping counts the places sub starts in s, overlapping ones included:
// "aXa" in "aXaXa" is ambiguous, though strings.Count finds it once.
func countOverlapping(s, sub string) int {
	n := 0
	for i := strings.Index(s, sub); i >= 0; n++ {
		j := strings.Index(s[i+1:], sub)
		if j < 0 {
			return n + 1
		}
		i += 1 + j
	}
	return n
}

const maxMatches = 100

func (s *Session) searchFile(ctx context.Context, args string) (string, int, error) {
	words, err := splitWords(args)
	if err != nil || len(words) < 1 || len(words) > 2 || words[0] == "" {
		return usage("search_file TERM [FILE]")
	}
	file := s.file
	if len(words) == 2 {
		file = s.abs(words[1])
	}
	if file == "" {
		return "Error: no file open: give FILE or open one first", 1, nil
	}
	f, msg, err := s.load(ctx, file)
	if msg != "" || err != nil {
		return msg, 1, err
	}
	var hits []string
	for i, l := range f.lines {
		if strings.Contains(l, words[0]) {
			hits = append(hits, fmt.Sprintf("Line %d:%s", i+1, l))
		}
	}
	switch {
	case len(hits) == 0:
		return fmt.Sprintf("No matches found for %q in %s", words[0], file), 1, nil
	case len(hits) > maxMatches:
		return fmt.Sprintf("More than %d lines match %q in %s: narrow the search", maxMatches, words[0], file), 1, nil
	}
	return fmt.Sprintf("Found %d matches for %q in %s:\n%s\nEnd of matches for %q in %s", len(hits), words[0], file,
		strings.Join(hits, "\n"), words[0], file), 0, nil
}

var (
	_ sandbox.Sandbox  = (*Session)(nil)
	_ sandbox.Prompter = (*Session)(nil)
	_ sandbox.Factory  = ScaffoldFactory{}
)
