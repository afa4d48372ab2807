package sandbox

import "fmt"

// DiffScript is the bash script every backend runs for Diff, in the repository root:
// everything the agent changed, new files included, against base (so commits made by
// the agent count too). It exits 3 when the repository is gone.
func DiffScript(base string) string {
	return fmt.Sprintf(`git rev-parse --git-dir >/dev/null 2>&1 || { echo "no git repository" >&2; exit 3; }
git -c core.fileMode=false add -A >/dev/null 2>&1 || exit 3
git -c core.fileMode=false diff --cached --no-color --no-ext-diff --binary %s`, shellQuote(base))
}

// shellQuote quotes s for bash.
func shellQuote(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, `'\''`...)
			continue
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

// Quote quotes s as one bash word.
func Quote(s string) string { return shellQuote(s) }
