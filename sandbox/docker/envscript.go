package docker

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/swerl/swerl/sandbox"
)

// The script that builds an env image (envimage.go), the checks of an Env before
// it runs, and what its failures mean.

// Exit statuses of envScript's steps.
const (
	exitAptUpdate  = 20
	exitAptInstall = 21
	exitLink       = 22
	exitModule     = 23
)

// envScript is the bash script that applies env (all but Vars) in the build
// container. Every value it embeds is quoted.
func envScript(env sandbox.Env) string {
	var b strings.Builder
	b.WriteString("set -u\n")
	if len(env.Packages) > 0 {
		pkgs := slices.Sorted(slices.Values(env.Packages))
		// An apt-get update that could not fetch an index still exits 0 unless
		// told otherwise, and the install would then blame the packages.
		fmt.Fprintf(&b, `echo "swerl-env: apt-get update"
apt-get update --error-on=any -o Acquire::Languages=none || exit %d
ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 || { echo "swerl-env: apt-get update fetched no package index"; exit %d; }
echo "swerl-env: apt-get install %s"
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -- %s || exit %d
apt-get clean
rm -rf /var/lib/apt/lists/*
`, exitAptUpdate, exitAptUpdate, strings.Join(pkgs, " "), shellQuoteAll(pkgs), exitAptInstall)
	}
	if len(env.Links) > 0 {
		fmt.Fprintf(&b, `link() {
  local t
  t=$(command -v -- "$2") && [[ $t == /* ]] || { echo "swerl-env: link $1 -> $2$3: command $2 not found on PATH ($PATH)"; exit %d; }
  printf '#!/bin/sh\nexec %%q%%s "$@"\n' "$t" "$3" >"/usr/local/bin/$1" && chmod 755 "/usr/local/bin/$1" || exit %d
  echo "swerl-env: /usr/local/bin/$1 -> $t$3"
}
`, exitLink, exitLink)
		for _, name := range slices.Sorted(maps.Keys(env.Links)) {
			first, rest := splitCommand(env.Links[name])
			fmt.Fprintf(&b, "link %s %s %s\n", shellQuote(name), shellQuote(first), shellQuote(rest))
		}
	}
	for _, m := range slices.Sorted(slices.Values(env.PythonModules)) {
		fmt.Fprintf(&b, "python3 -c %s || { echo %s; exit %d; }\n", shellQuote("import "+m),
			shellQuote(fmt.Sprintf("swerl-env: python module %s does not import in python3 (Debian package %s?)", m, debianModuleHint(m))), exitModule)
	}
	b.WriteString("echo 'swerl-env: done'\n")
	return b.String()
}

// splitCommand splits a link target into its first word and the rest, which keeps
// its leading blank (" -m pytest").
func splitCommand(target string) (first, rest string) {
	target = strings.TrimSpace(target)
	i := strings.IndexFunc(target, unicode.IsSpace)
	if i < 0 {
		return target, ""
	}
	return target[:i], " " + strings.TrimSpace(target[i:])
}

// debianModuleHint guesses the Debian package of a Python module (most are
// python3-<name>).
func debianModuleHint(module string) string {
	top, _, _ := strings.Cut(module, ".")
	return "python3-" + strings.ReplaceAll(strings.ToLower(top), "_", "-")
}

var (
	debianPackage = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+:~-]+)?$`)
	linkName      = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+-]*$`)
	varName       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	pythonModule  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
)

// validateEnv rejects what envScript cannot apply as asked.
func validateEnv(env sandbox.Env) error {
	for _, p := range env.Packages {
		if !debianPackage.MatchString(p) {
			return fmt.Errorf("%q is not a Debian package name", p)
		}
	}
	for name, target := range env.Links {
		if !linkName.MatchString(name) {
			return fmt.Errorf("link name %q is not a command name", name)
		}
		if first, _ := splitCommand(target); first == "" {
			return fmt.Errorf("link %s has no target", name)
		}
	}
	for k, v := range env.Vars {
		if !varName.MatchString(k) {
			return fmt.Errorf("variable name %q is not valid", k)
		}
		if strings.ContainsRune(v, 0) {
			return fmt.Errorf("variable %s holds a NUL byte", k)
		}
	}
	for _, m := range env.PythonModules {
		if !pythonModule.MatchString(m) {
			return fmt.Errorf("%q is not a Python module name", m)
		}
	}
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func shellQuoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = shellQuote(s)
	}
	return strings.Join(q, " ")
}

func envLabel(env sandbox.Env) string {
	if env.Name == "" {
		return "an unnamed env"
	}
	return "env " + env.Name
}

// envError is a failed env image build.
type envError struct {
	env, image, base string
	what, fix        string
	log              string // tail of the build log
	permanent        bool
}

func (e *envError) Error() string {
	name := e.env
	if name == "" {
		name = "(unnamed)"
	}
	s := fmt.Sprintf("env image %s for env %s (on %s): %s; fix: %s", e.image, name, e.base, e.what, e.fix)
	if e.log != "" {
		s += "\nbuild log (tail):\n" + e.log
	}
	return s
}

func (e *envError) Is(target error) bool { return e.permanent && target == sandbox.ErrPermanent }

var (
	aptMissing     = regexp.MustCompile(`Unable to locate package (\S+)`)
	aptNoCandidate = regexp.MustCompile(`Package '?([^' ]+)'? has no installation candidate`)
)

// envLogLines is how many lines of a failed build's log an error keeps.
const envLogLines = 40

// envFailure makes the error of a build script that exited with code.
func (f *Factory) envFailure(ctx context.Context, env sandbox.Env, tag, id string, code int64) error {
	log := f.buildLog(ctx, id)
	e := &envError{env: env.Name, image: tag, base: f.cfg.BaseImage, log: log}
	switch code {
	case exitAptInstall:
		var missing []string
		for _, re := range []*regexp.Regexp{aptMissing, aptNoCandidate} {
			for _, m := range re.FindAllStringSubmatch(log, -1) {
				if !slices.Contains(missing, m[1]) {
					missing = append(missing, m[1])
				}
			}
		}
		if len(missing) > 0 {
			e.what = fmt.Sprintf("apt has no package %s in the base image's Debian release", strings.Join(missing, ", "))
			e.fix = "correct the environment's Packages (apt-cache search in the base image lists the real names)"
			e.permanent = true
		} else {
			e.what = "apt-get install failed (exit " + strconv.FormatInt(code, 10) + " of the build script)"
			e.fix = "see the log; a download that failed midway is worth another try"
		}
	case exitAptUpdate:
		e.what = "apt-get update could not fetch the package lists"
		e.fix = "the build container needs the default bridge network to reach the base image's Debian mirror; check that `docker run --rm " + f.cfg.BaseImage + " apt-get update` works"
	case exitLink:
		e.what = scriptMessage(log, "swerl-env: link ", "a link's target is not a command in the image")
		e.fix = "add the package that provides it to Packages, or correct Links"
		e.permanent = true
	case exitModule:
		e.what = scriptMessage(log, "swerl-env: python module ", "a Python module does not import")
		e.fix = "add the Debian package that provides it to Packages, or drop it from PythonModules"
		e.permanent = true
	default:
		e.what = fmt.Sprintf("the build script exited %d", code)
		e.fix = "see the log"
	}
	return e
}

// scriptMessage returns the last line of log that starts with prefix (what the
// build script said when it failed), without its "swerl-env: ", or def.
func scriptMessage(log, prefix, def string) string {
	lines := strings.Split(log, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, prefix) {
			return strings.TrimPrefix(l, "swerl-env: ")
		}
	}
	return def
}

// buildLog returns the last envLogLines lines of a build container's output.
func (f *Factory) buildLog(ctx context.Context, id string) string {
	r, err := f.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(envLogLines)})
	if err != nil {
		return fmt.Sprintf("(no build log: %v)", err)
	}
	defer r.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, r); err != nil {
		fmt.Fprintf(&out, "(reading the build log: %v)", err)
	}
	s := strings.TrimRight(out.String(), "\n")
	if len(s) > 8<<10 {
		s = "..." + s[len(s)-8<<10:]
	}
	return s
}
