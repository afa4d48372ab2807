package swe

import (
	"fmt"
	"strconv"
	"strings"
)

// TypedStep is one scaffold command that re-types part of a patch, with the command
// to use instead if the first answers with an error (a replace whose search text is
// not unique falls back to an edit by line numbers).
type TypedStep struct {
	Command  string
	Fallback string
}

// TypePatch turns a unified diff into scaffold commands that make the same change
// through the agent's own tools: create and edit for new files, rm for deleted ones,
// and for each hunk of a changed file, bottom-up so earlier line numbers stay valid,
// an edit of the hunk's line range, or every other hunk a replace of its old text
// (falling back to the edit). It is how a scripted policy proves that the scaffold
// can reproduce a gold patch.
func TypePatch(patch string) ([]TypedStep, error) {
	files, err := parseDiff(patch)
	if err != nil {
		return nil, err
	}
	var steps []TypedStep
	n := 0
	for _, f := range files {
		switch {
		case f.deleted:
			steps = append(steps, TypedStep{Command: "rm -f " + QuoteWord(f.old)})
			continue
		case f.created:
			steps = append(steps, TypedStep{Command: "create " + QuoteWord(f.path)})
		}
		for i := len(f.hunks) - 1; i >= 0; i-- {
			h := f.hunks[i]
			start, end := h.oldStart, h.oldStart+len(h.oldLines)-1
			if len(h.oldLines) == 0 {
				start, end = h.oldStart+1, h.oldStart
			}
			edit := fmt.Sprintf("edit --file %s %d:%d %s", QuoteWord(f.path), start, end, heredoc(h.newLines))
			step := TypedStep{Command: edit}
			if n%2 == 1 && len(h.oldLines) > 0 {
				step = TypedStep{Command: fmt.Sprintf("replace --file %s %s %s", QuoteWord(f.path),
					QuoteWord(strings.Join(h.oldLines, "\n")), QuoteWord(strings.Join(h.newLines, "\n"))), Fallback: edit}
			}
			steps = append(steps, step)
			n++
		}
	}
	return steps, nil
}

func heredoc(lines []string) string {
	delim := "SWERL_EOF"
	for i := 0; containsLine(lines, delim); i++ {
		delim = "SWERL_EOF_" + strconv.Itoa(i)
	}
	body := strings.Join(lines, "\n")
	if len(lines) > 0 {
		body += "\n"
	}
	return "<<'" + delim + "'\n" + body + delim
}

func containsLine(lines []string, s string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) == s {
			return true
		}
	}
	return false
}

type diffFile struct {
	old, path        string
	created, deleted bool
	hunks            []diffHunk
}

type diffHunk struct {
	oldStart           int
	oldLines, newLines []string
}

// parseDiff reads the files and hunks of a unified diff (git's format).
func parseDiff(patch string) ([]diffFile, error) {
	var files []diffFile
	lines := strings.Split(patch, "\n")
	var cur *diffFile
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "diff --git "):
			files = append(files, diffFile{})
			cur = &files[len(files)-1]
		case cur == nil:
		case strings.HasPrefix(l, "new file mode"):
			cur.created = true
		case strings.HasPrefix(l, "deleted file mode"):
			cur.deleted = true
		case strings.HasPrefix(l, "rename ") || strings.HasPrefix(l, "GIT binary patch"):
			return nil, fmt.Errorf("patch line %d: renames and binary files cannot be typed", i+1)
		case strings.HasPrefix(l, "--- "):
			cur.old = strings.TrimPrefix(strings.TrimPrefix(l, "--- "), "a/")
		case strings.HasPrefix(l, "+++ "):
			cur.path = strings.TrimPrefix(strings.TrimPrefix(l, "+++ "), "b/")
			if cur.path == "/dev/null" {
				cur.path = cur.old
			}
		case strings.HasPrefix(l, "@@ "):
			var os, oc, ns, nc int
			if _, err := fmt.Sscanf(normaliseHunk(l), "@@ -%d,%d +%d,%d @@", &os, &oc, &ns, &nc); err != nil {
				return nil, fmt.Errorf("patch line %d: bad hunk header %q", i+1, l)
			}
			h := diffHunk{oldStart: os}
			for i+1 < len(lines) && oc+nc > 0 {
				i++
				b := lines[i]
				switch {
				case strings.HasPrefix(b, `\`):
					continue
				case b == "" || b[0] == ' ':
					text := strings.TrimPrefix(b, " ")
					h.oldLines, h.newLines = append(h.oldLines, text), append(h.newLines, text)
					oc, nc = oc-1, nc-1
				case b[0] == '-':
					h.oldLines = append(h.oldLines, b[1:])
					oc--
				case b[0] == '+':
					h.newLines = append(h.newLines, b[1:])
					nc--
				default:
					return nil, fmt.Errorf("patch line %d: unexpected %q in a hunk", i+1, b)
				}
			}
			cur.hunks = append(cur.hunks, h)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no file in the patch")
	}
	return files, nil
}

// normaliseHunk writes the counts git leaves out ("@@ -3 +3 @@" means one line).
func normaliseHunk(h string) string {
	end := strings.Index(h[3:], " @@")
	if end < 0 {
		return h
	}
	fields := strings.Fields(h[3 : 3+end])
	for i, f := range fields {
		if !strings.Contains(f, ",") {
			fields[i] = f + ",1"
		}
	}
	return "@@ " + strings.Join(fields, " ") + " @@"
}
