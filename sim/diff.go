package sim

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// hunk replaces old lines at a (0-based) by new ones; b is the position in the new file.
type hunk struct {
	a, b     int
	old, new []string
}

// unifiedDiff renders the changes from base to cur as a git-style unified diff with no
// context lines. Files are compared line by line (a missing final newline is no
// change).
func unifiedDiff(base, cur map[string]string) string {
	names := map[string]bool{}
	for n := range base {
		names[n] = true
	}
	for n := range cur {
		names[n] = true
	}
	var b strings.Builder
	for _, n := range slices.Sorted(maps.Keys(names)) {
		was, inBase := base[n]
		now, inCur := cur[n]
		x, y := splitLines(was), splitLines(now)
		if inBase == inCur && slices.Equal(x, y) {
			continue
		}
		fmt.Fprintf(&b, "diff --git a/%s b/%s\n", n, n)
		switch {
		case !inBase:
			fmt.Fprintf(&b, "new file mode 100644\n--- /dev/null\n+++ b/%s\n", n)
		case !inCur:
			fmt.Fprintf(&b, "deleted file mode 100644\n--- a/%s\n+++ /dev/null\n", n)
		default:
			fmt.Fprintf(&b, "--- a/%s\n+++ b/%s\n", n, n)
		}
		for _, h := range diffLines(x, y) {
			fmt.Fprintf(&b, "@@ -%s +%s @@\n", hunkRange(h.a, len(h.old)), hunkRange(h.b, len(h.new)))
			for _, l := range h.old {
				b.WriteString("-" + l + "\n")
			}
			for _, l := range h.new {
				b.WriteString("+" + l + "\n")
			}
		}
	}
	return b.String()
}

// hunkRange renders a hunk side: "start" or "start,count", where an empty side names
// the line before it (git's convention).
func hunkRange(at, count int) string {
	switch count {
	case 0:
		return strconv.Itoa(at) + ",0"
	case 1:
		return strconv.Itoa(at + 1)
	}
	return strconv.Itoa(at+1) + "," + strconv.Itoa(count)
}

// maxDiffCells bounds the LCS table; beyond it the changed middle is one hunk.
const maxDiffCells = 4 << 20

// diffLines returns the hunks turning x into y (a longest common subsequence).
func diffLines(x, y []string) []hunk {
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	mx, my := x[pre:len(x)-suf], y[pre:len(y)-suf]
	if len(mx) == 0 && len(my) == 0 {
		return nil
	}
	if (len(mx)+1)*(len(my)+1) > maxDiffCells {
		return []hunk{{a: pre, b: pre, old: mx, new: my}}
	}
	// lcs[i][j] is the LCS length of mx[i:] and my[j:].
	w := len(my) + 1
	lcs := make([]int32, (len(mx)+1)*w)
	for i := len(mx) - 1; i >= 0; i-- {
		for j := len(my) - 1; j >= 0; j-- {
			if mx[i] == my[j] {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	var (
		out []hunk
		cur *hunk
	)
	i, j := 0, 0
	for i < len(mx) || j < len(my) {
		switch {
		case i < len(mx) && j < len(my) && mx[i] == my[j]:
			cur = nil
			i, j = i+1, j+1
			continue
		case cur == nil:
			out = append(out, hunk{a: pre + i, b: pre + j})
			cur = &out[len(out)-1]
		}
		if j >= len(my) || (i < len(mx) && lcs[(i+1)*w+j] >= lcs[i*w+j+1]) {
			cur.old = append(cur.old, mx[i])
			i++
		} else {
			cur.new = append(cur.new, my[j])
			j++
		}
	}
	return out
}

var errPatch = errors.New("patch does not apply")

// applyPatch applies a unified diff (with or without context lines) to a copy of
// files. Headers other than ---, +++ and @@ are skipped; anything else is an error
// wrapping errPatch, as is a hunk whose old lines are not there.
func applyPatch(files map[string]string, patch string) (map[string]string, error) {
	out := maps.Clone(files)
	lines := splitLines(patch)
	for i := 0; i < len(lines); {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "--- "):
			if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "+++ ") {
				return nil, fmt.Errorf("%w: line %d: --- without +++", errPatch, i+1)
			}
			from, to := patchName(l[4:]), patchName(lines[i+1][4:])
			next, err := applyFile(out, from, to, lines, i+2)
			if err != nil {
				return nil, err
			}
			i = next
		case strings.HasPrefix(l, "diff "), strings.HasPrefix(l, "index "), strings.HasPrefix(l, "new file mode"),
			strings.HasPrefix(l, "deleted file mode"), strings.HasPrefix(l, "old mode"), strings.HasPrefix(l, "new mode"),
			strings.TrimSpace(l) == "":
			i++
		default:
			return nil, fmt.Errorf("%w: line %d: unexpected %q", errPatch, i+1, l)
		}
	}
	return out, nil
}

// patchName turns "a/mod0.py" (or "b/…", "/dev/null", a name with a tab and a date)
// into a file key, "" for /dev/null.
func patchName(s string) string {
	s, _, _ = strings.Cut(s, "\t")
	s = strings.TrimSpace(s)
	if s == "/dev/null" {
		return ""
	}
	if strings.HasPrefix(s, "a/") || strings.HasPrefix(s, "b/") {
		s = s[2:]
	}
	return s
}

// applyFile applies the hunks starting at lines[i] to file from (written as to) and
// returns the index of the first line after them.
func applyFile(files map[string]string, from, to string, lines []string, i int) (int, error) {
	var src []string
	if from != "" {
		text, ok := files[from]
		if !ok {
			return 0, fmt.Errorf("%w: no file %s", errPatch, from)
		}
		src = splitLines(text)
	}
	var dst []string
	pos := 0 // next line of src to copy
	for i < len(lines) && strings.HasPrefix(lines[i], "@@ ") {
		a, na, _, nb, err := parseHunkHeader(lines[i])
		if err != nil {
			return 0, err
		}
		i++
		start := a - 1
		if na == 0 {
			start = a
		}
		if start < pos || start > len(src) {
			return 0, fmt.Errorf("%w: hunk at line %d of %s is out of place", errPatch, a, from)
		}
		dst = append(dst, src[pos:start]...)
		pos = start
		for na > 0 || nb > 0 {
			if i >= len(lines) {
				return 0, fmt.Errorf("%w: hunk of %s cut short", errPatch, from)
			}
			l := lines[i]
			i++
			if strings.HasPrefix(l, `\`) { // "\ No newline at end of file"
				continue
			}
			if l == "" {
				l = " " // an empty context line whose space was stripped
			}
			op, text := l[0], l[1:]
			switch {
			case (op == ' ' || op == '-') && na > 0:
				if pos >= len(src) || src[pos] != text {
					return 0, fmt.Errorf("%w: %s line %d differs", errPatch, from, pos+1)
				}
				pos++
				na--
				if op == ' ' {
					if nb == 0 {
						return 0, fmt.Errorf("%w: bad hunk counts in %s", errPatch, from)
					}
					dst = append(dst, text)
					nb--
				}
			case op == '+' && nb > 0:
				dst = append(dst, text)
				nb--
			default:
				return 0, fmt.Errorf("%w: bad hunk line %q in %s", errPatch, l, from)
			}
		}
		for i < len(lines) && strings.HasPrefix(lines[i], `\`) {
			i++
		}
	}
	dst = append(dst, src[pos:]...)
	if from != "" && from != to {
		delete(files, from)
	}
	if to != "" {
		text := strings.Join(dst, "\n")
		if len(dst) > 0 {
			text += "\n"
		}
		files[to] = text
	}
	return i, nil
}

// parseHunkHeader parses "@@ -a[,na] +b[,nb] @@ …".
func parseHunkHeader(h string) (a, na, b, nb int, err error) {
	f := strings.Fields(h)
	bad := fmt.Errorf("%w: bad hunk header %q", errPatch, h)
	if len(f) < 4 || f[0] != "@@" || f[3] != "@@" || !strings.HasPrefix(f[1], "-") || !strings.HasPrefix(f[2], "+") {
		return 0, 0, 0, 0, bad
	}
	parse := func(s string) (int, int, bool) {
		x, y, has := strings.Cut(s, ",")
		n, err1 := strconv.Atoi(x)
		c := 1
		var err2 error
		if has {
			c, err2 = strconv.Atoi(y)
		}
		return n, c, err1 == nil && err2 == nil && n >= 0 && c >= 0
	}
	a, na, ok1 := parse(f[1][1:])
	b, nb, ok2 := parse(f[2][1:])
	if !ok1 || !ok2 {
		return 0, 0, 0, 0, bad
	}
	return a, na, b, nb, nil
}
