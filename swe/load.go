package swe

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/swerl/swerl/messages"
)

// LineError is one problem with one line of a task file (of a Parquet file: one
// row, Line counting rows from 1). Field is the JSON key (Parquet column) at fault
// ("install_config.test_cmd" for a nested one), or "" when the line as a whole is
// bad (not JSON, not an object).
type LineError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// LoadError lists every bad line of a task file, in file order. A line can appear
// more than once (one entry per bad field). The tasks of the good lines are returned
// beside it.
type LoadError struct {
	Errs []LineError
}

// maxListed caps how many line errors Error prints; Errs keeps them all.
const maxListed = 50

func (e *LoadError) Error() string {
	var b strings.Builder
	lines := map[int]bool{}
	for _, le := range e.Errs {
		lines[le.Line] = true
	}
	file := ""
	if len(e.Errs) > 0 {
		file = e.Errs[0].File + ": "
	}
	fmt.Fprintf(&b, "%s%d bad line(s)", file, len(lines))
	for i, le := range e.Errs {
		if i == maxListed {
			fmt.Fprintf(&b, "\n  ... and %d more", len(e.Errs)-maxListed)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(le.Error())
	}
	return b.String()
}

// Unwrap exposes each LineError to errors.As and errors.Is.
func (e *LoadError) Unwrap() []error {
	errs := make([]error, len(e.Errs))
	for i, le := range e.Errs {
		errs[i] = le
	}
	return errs
}

// LoadTasks reads a SWE-bench / SWE-rebench task file: Parquet (the Hugging Face
// hub's format: a file that starts with "PAR1", whatever its name), JSON Lines (one
// task object per line, blank lines skipped) or, when the first non-blank byte is
// '[', one JSON array of task objects. A Parquet row is turned into the JSON object
// of the same columns (see ReadTasks) and checked exactly as a line is; for Parquet,
// a LineError's Line is the row number (from 1). A file named *.parquet that does
// not start with "PAR1", or that is not valid Parquet, is a plain error naming it.
// See ReadTasks for what comes back.
func LoadTasks(path string) ([]Task, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var magic [len(parquetMagic)]byte
	if n, _ := f.ReadAt(magic[:], 0); n == len(magic) && string(magic[:]) == parquetMagic {
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		return readParquet(f, st.Size(), path)
	}
	return ReadTasks(f, path)
}

// ReadTasks reads tasks from r; name labels errors (usually the file's path). Lines
// may be of any length. Input that starts with "PAR1" is read whole as a Parquet
// file: every column becomes a key of the row's object (strings and byte arrays as
// strings, numbers, booleans, timestamps as RFC 3339 strings, LIST and repeated
// columns as lists, structs and MAPs as objects, nulls as null) and each row is
// checked as a line is, "line" meaning the row. It returns the tasks of the good
// lines, in order, and, when some lines are bad, a *LoadError naming each (file,
// line, field, what is wrong): malformed JSON, a field of the wrong type, a missing
// instance_id, repo, base_commit or problem_statement, an empty FAIL_TO_PASS, or an
// instance_id already seen (the first one is kept). A read error, a file with no
// task at all, a name ending in .parquet without Parquet content, or invalid
// Parquet is a plain error.
func ReadTasks(r io.Reader, name string) ([]Task, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(len(parquetMagic)); string(magic) == parquetMagic {
		data, err := io.ReadAll(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return readParquet(bytes.NewReader(data), int64(len(data)), name)
	}
	if strings.EqualFold(filepath.Ext(name), ".parquet") {
		return nil, fmt.Errorf("%s: not a Parquet file: it does not start with %q; fix: download it again, or rename a JSON Lines file to .jsonl", name, parquetMagic)
	}
	if isArray, err := startsWithArray(br); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	} else if isArray {
		return readArray(br, name)
	}
	l := newLoader(name)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if lineNo == 1 {
				line = bytes.TrimPrefix(line, []byte("\uFEFF"))
			}
			if len(bytes.TrimSpace(line)) > 0 {
				l.add(lineNo, line)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return l.tasks, fmt.Errorf("%s:%d: %w", name, lineNo, err)
		}
	}
	return l.result()
}

// startsWithArray peeks past blanks (and a byte-order mark) for a '['. Only the
// buffer's worth of leading blanks is looked through.
func startsWithArray(br *bufio.Reader) (bool, error) {
	bom := []byte("\uFEFF")
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if err == io.EOF || err == bufio.ErrBufferFull {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if len(b) < len(bom) && bytes.HasPrefix(bom, b) {
			continue // maybe a byte-order mark: read on
		}
		rest := bytes.TrimLeft(bytes.TrimPrefix(b, bom), " \t\r\n")
		if len(rest) > 0 {
			return rest[0] == '[', nil
		}
	}
}

// readArray decodes a file holding one JSON array of tasks.
func readArray(br *bufio.Reader, name string) ([]Task, error) {
	data, err := io.ReadAll(br)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	lineAt := func(off int64) int { return 1 + bytes.Count(data[:off], []byte("\n")) }
	l := newLoader(name)
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // the '['
		l.fail(lineAt(dec.InputOffset()), "", "malformed JSON: "+err.Error())
		return l.result()
	}
	for dec.More() {
		var raw json.RawMessage
		start := dec.InputOffset()
		if err := dec.Decode(&raw); err != nil {
			// Name the line the bad value starts on; the decoder cannot resume.
			off := int(start)
			for off < len(data) && strings.IndexByte(", \t\r\n", data[off]) >= 0 {
				off++
			}
			l.fail(lineAt(int64(off)), "", "malformed JSON: "+err.Error())
			return l.result()
		}
		l.add(lineAt(dec.InputOffset()-int64(len(raw))), raw)
	}
	if _, err := dec.Token(); err != nil { // the ']'
		l.fail(lineAt(dec.InputOffset()), "", "malformed JSON: "+err.Error())
	}
	return l.result()
}

// loader accumulates tasks and line errors of one file.
type loader struct {
	name  string
	tasks []Task
	errs  []LineError
	seen  map[string]int // instance_id -> line
}

func newLoader(name string) *loader {
	return &loader{name: name, seen: map[string]int{}}
}

func (l *loader) fail(line int, field, msg string) {
	l.errs = append(l.errs, LineError{File: l.name, Line: line, Field: field, Msg: msg})
}

func (l *loader) add(line int, data []byte) {
	t, errs := decodeTask(data)
	if len(errs) > 0 {
		for _, fe := range errs {
			l.fail(line, fe.Field, fe.Msg)
		}
		return
	}
	if first, dup := l.seen[t.InstanceID]; dup {
		l.fail(line, "instance_id", fmt.Sprintf("duplicate %q: already on line %d (the first is kept)", t.InstanceID, first))
		return
	}
	l.seen[t.InstanceID] = line
	l.tasks = append(l.tasks, t)
}

func (l *loader) result() ([]Task, error) {
	if len(l.errs) > 0 {
		return l.tasks, &LoadError{Errs: l.errs}
	}
	if len(l.tasks) == 0 {
		return nil, fmt.Errorf("%s: no tasks", l.name)
	}
	return l.tasks, nil
}

// fieldError is a decoding problem with one field; the loader adds file and line.
type fieldError struct {
	Field string
	Msg   string
}

func (e *fieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// requiredFields must be present and non-empty on every task.
var requiredFields = []string{"instance_id", "repo", "base_commit", "problem_statement"}

// decodeTask decodes one task object field by field, so that each problem names
// its field. Unknown keys are ignored.
func decodeTask(data []byte) (Task, []*fieldError) {
	var t Task
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return t, []*fieldError{{Msg: "want a JSON object, got " + jsonKind(bytes.TrimSpace(data))}}
		}
		return t, []*fieldError{{Msg: "malformed JSON: " + err.Error()}}
	}
	if obj == nil {
		return t, []*fieldError{{Msg: "want a JSON object, got null"}}
	}
	var errs []*fieldError
	fail := func(field string, err error) {
		var fe *fieldError
		if errors.As(err, &fe) {
			if fe.Field != "" {
				field += "." + fe.Field
			}
			errs = append(errs, &fieldError{Field: field, Msg: fe.Msg})
			return
		}
		errs = append(errs, &fieldError{Field: field, Msg: err.Error()})
	}
	strs := []struct {
		key string
		dst *string
		num bool // a JSON number is accepted and kept as written
	}{
		{"instance_id", &t.InstanceID, false},
		{"repo", &t.Repo, false},
		{"base_commit", &t.BaseCommit, false},
		{"patch", &t.Patch, false},
		{"test_patch", &t.TestPatch, false},
		{"problem_statement", &t.ProblemStatement, false},
		{"hints_text", &t.HintsText, false},
		{"version", &t.Version, true},
		{"environment_setup_commit", &t.EnvironmentSetupCommit, false},
		{"created_at", &t.CreatedAt, true},
		{"docker_image", &t.DockerImage, false},
	}
	for _, f := range strs {
		raw, ok := obj[f.key]
		if !ok {
			continue
		}
		if err := decodeString(raw, f.dst, f.num); err != nil {
			fail(f.key, err)
		}
	}
	for _, key := range requiredFields {
		if fieldIn(errs, key) {
			continue
		}
		raw, ok := obj[key]
		switch {
		case !ok:
			fail(key, errors.New("missing (required)"))
		case strings.TrimSpace(stringField(&t, key)) == "":
			if jsonKind(raw) == "null" {
				fail(key, errors.New("missing (required, got null)"))
			} else {
				fail(key, errors.New("empty (required)"))
			}
		}
	}
	if raw, ok := obj["FAIL_TO_PASS"]; !ok {
		fail("FAIL_TO_PASS", errors.New("missing; fix: every task needs at least one FAIL_TO_PASS test"))
	} else if err := json.Unmarshal(raw, &t.FailToPass); err != nil {
		fail("FAIL_TO_PASS", err)
	} else if len(t.FailToPass) == 0 {
		fail("FAIL_TO_PASS", errors.New("empty; fix: every task needs at least one FAIL_TO_PASS test"))
	}
	if raw, ok := obj["PASS_TO_PASS"]; ok {
		if err := json.Unmarshal(raw, &t.PassToPass); err != nil {
			fail("PASS_TO_PASS", err)
		}
	}
	if raw, ok := obj["install_config"]; ok && jsonKind(raw) != "null" {
		raw = unquoteObject(raw)
		var ic InstallConfig
		if err := json.Unmarshal(raw, &ic); err != nil {
			fail("install_config", err)
		} else {
			t.InstallConfig = &ic
		}
	}
	if raw, ok := obj["meta"]; ok && jsonKind(raw) != "null" {
		raw = unquoteObject(raw)
		if k := jsonKind(raw); k != "object" {
			fail("meta", fmt.Errorf("want an object or a JSON string holding one, got %s", k))
		} else {
			t.Meta = append(json.RawMessage(nil), raw...)
		}
	}
	return t, errs
}

// fieldIn reports whether errs already holds an error for field.
func fieldIn(errs []*fieldError, field string) bool {
	return slices.ContainsFunc(errs, func(e *fieldError) bool { return e.Field == field })
}

func stringField(t *Task, key string) string {
	switch key {
	case "instance_id":
		return t.InstanceID
	case "repo":
		return t.Repo
	case "base_commit":
		return t.BaseCommit
	case "problem_statement":
		return t.ProblemStatement
	}
	return ""
}

// decodeString decodes a JSON string (null leaves dst empty); with num, a JSON
// number is accepted and kept as written ("3.0" stays "3.0").
func decodeString(raw json.RawMessage, dst *string, num bool) error {
	switch k := jsonKind(raw); {
	case k == "string":
		return json.Unmarshal(raw, dst)
	case k == "null":
		return nil
	case k == "number" && num:
		*dst = string(bytes.TrimSpace(raw))
		return nil
	case num:
		return fmt.Errorf("want a string or a number, got %s", k)
	default:
		return fmt.Errorf("want a string, got %s", k)
	}
}

// unquoteObject returns the object held in a JSON string (some dataset exports
// encode nested objects that way), or raw unchanged.
func unquoteObject(raw json.RawMessage) json.RawMessage {
	if jsonKind(raw) != "string" {
		return raw
	}
	var s string
	if json.Unmarshal(raw, &s) != nil || jsonKind([]byte(s)) != "object" {
		return raw
	}
	return json.RawMessage(s)
}

// jsonKind names the JSON type of a (trimmed or not) encoded value.
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "list"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// UnmarshalJSON accepts a JSON list of strings, a JSON string holding one (the
// SWE-bench dumps' encoding), "" (an empty list) or null.
func (l *TestList) UnmarshalJSON(data []byte) error {
	const want = "want a list of strings or a JSON string holding one"
	switch k := jsonKind(data); k {
	case "null":
		*l = nil
		return nil
	case "list":
		return l.fromList(data, want)
	case "string":
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return &fieldError{Msg: "malformed JSON string: " + err.Error()}
		}
		if strings.TrimSpace(s) == "" {
			*l = nil
			return nil
		}
		if jsonKind([]byte(s)) != "list" {
			return &fieldError{Msg: fmt.Sprintf("%s, got a string that is not a JSON list: %s", want, abbreviate(s, 60))}
		}
		return l.fromList([]byte(s), want)
	default:
		return &fieldError{Msg: want + ", got " + k}
	}
}

func (l *TestList) fromList(data []byte, want string) error {
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		return &fieldError{Msg: fmt.Sprintf("%s: malformed list: %v", want, err)}
	}
	out := make(TestList, 0, len(items))
	for i, it := range items {
		if k := jsonKind(it); k != "string" {
			return &fieldError{Msg: fmt.Sprintf("%s, got a list with a %s at index %d", want, k, i)}
		}
		var s string
		if err := json.Unmarshal(it, &s); err != nil {
			return &fieldError{Msg: err.Error()}
		}
		out = append(out, s)
	}
	*l = out
	return nil
}

// MarshalJSON writes a JSON list (never null, never the string encoding).
func (l TestList) MarshalJSON() ([]byte, error) {
	if l == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(l))
}

// knownInstallKeys are the install_config keys with fields of their own.
var knownInstallKeys = map[string]bool{"test_cmd": true, "log_parser": true, "install": true, "pre_install": true, "eval_commands": true, "env": true}

// UnmarshalJSON decodes an install_config object. test_cmd, install and
// pre_install may be a string or a list of strings (joined with " && ", the SWE-bench specs' list form);
// env is an object of strings (numbers and booleans are kept as written); every
// other key is kept, undecoded, in Extra.
func (c *InstallConfig) UnmarshalJSON(data []byte) error {
	if k := jsonKind(data); k != "object" {
		return &fieldError{Msg: "want an object or a JSON string holding one, got " + k}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return &fieldError{Msg: "malformed JSON: " + err.Error()}
	}
	var out InstallConfig
	var err error
	if out.TestCmd, err = stringOrList(obj["test_cmd"]); err != nil {
		return &fieldError{Field: "test_cmd", Msg: err.Error()}
	}
	if raw, ok := obj["log_parser"]; ok {
		if err := decodeString(raw, &out.LogParser, false); err != nil {
			return &fieldError{Field: "log_parser", Msg: err.Error()}
		}
	}
	if out.Install, err = stringOrList(obj["install"]); err != nil {
		return &fieldError{Field: "install", Msg: err.Error()}
	}
	if out.PreInstall, err = stringOrList(obj["pre_install"]); err != nil {
		return &fieldError{Field: "pre_install", Msg: err.Error()}
	}
	if out.EvalCommands, err = joinedList(obj["eval_commands"], "\n"); err != nil {
		return &fieldError{Field: "eval_commands", Msg: err.Error()}
	}
	if out.Env, err = envMap(obj["env"]); err != nil {
		return &fieldError{Field: "env", Msg: err.Error()}
	}
	for k, v := range obj {
		if !knownInstallKeys[k] {
			if out.Extra == nil {
				out.Extra = map[string]json.RawMessage{}
			}
			out.Extra[k] = v
		}
	}
	*c = out
	return nil
}

// MarshalJSON writes the known fields and Extra as one object.
func (c InstallConfig) MarshalJSON() ([]byte, error) {
	obj := make(map[string]any, len(c.Extra)+5)
	for k, v := range c.Extra {
		if !knownInstallKeys[k] {
			obj[k] = v
		}
	}
	if c.TestCmd != "" {
		obj["test_cmd"] = c.TestCmd
	}
	if c.LogParser != "" {
		obj["log_parser"] = c.LogParser
	}
	if c.Install != "" {
		obj["install"] = c.Install
	}
	if c.PreInstall != "" {
		obj["pre_install"] = c.PreInstall
	}
	if c.EvalCommands != "" {
		obj["eval_commands"] = c.EvalCommands
	}
	if len(c.Env) > 0 {
		obj["env"] = c.Env
	}
	return json.Marshal(obj)
}

// stringOrList decodes a string or a list of strings joined with " && ".
func stringOrList(raw json.RawMessage) (string, error) { return joinedList(raw, " && ") }

// joinedList decodes a string or a list of strings joined with sep.
func joinedList(raw json.RawMessage, sep string) (string, error) {
	const want = "want a string or a list of strings"
	switch k := jsonKind(raw); k {
	case "nothing", "null":
		return "", nil
	case "string":
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case "list":
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return "", err
		}
		parts := make([]string, 0, len(items))
		for i, it := range items {
			var s string
			if jsonKind(it) != "string" || json.Unmarshal(it, &s) != nil {
				return "", fmt.Errorf("%s, got a list with a %s at index %d", want, jsonKind(it), i)
			}
			if strings.TrimSpace(s) != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, sep), nil
	default:
		return "", fmt.Errorf("%s, got %s", want, k)
	}
}

// envMap decodes an object of scalars into strings.
func envMap(raw json.RawMessage) (map[string]string, error) {
	switch k := jsonKind(raw); k {
	case "nothing", "null":
		return nil, nil
	case "object":
	default:
		return nil, fmt.Errorf("want an object of strings, got %s", k)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	env := make(map[string]string, len(obj))
	for k, v := range obj {
		switch kind := jsonKind(v); kind {
		case "string":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, err
			}
			env[k] = s
		case "number", "boolean":
			env[k] = string(bytes.TrimSpace(v))
		default:
			return nil, fmt.Errorf("want an object of strings, got a %s for %q", kind, k)
		}
	}
	return env, nil
}

func abbreviate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...", string(r[:n]))
}

// Ref is the task as the episode messages carry it.
func (t Task) Ref() messages.TaskRef {
	return messages.TaskRef{ID: t.InstanceID, Statement: t.ProblemStatement}
}
