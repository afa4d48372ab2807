package local

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/swerl/swerl/sandbox"
)

// defaultPath is the PATH commands see unless Config.Path says: Go's bin
// directory, the PATH swerl was started with (the user's interpreters and tools),
// then the system directories, each once.
func defaultPath() string {
	var dirs []string
	if goroot, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		dirs = append(dirs, filepath.Join(strings.TrimSpace(string(goroot)), "bin"))
	} else {
		dirs = append(dirs, "/usr/local/go/bin")
	}
	dirs = append(dirs, filepath.SplitList(os.Getenv("PATH"))...)
	dirs = append(dirs, "/usr/local/bin", "/usr/bin", "/bin")
	var out []string
	for _, d := range dirs {
		if d != "" && filepath.IsAbs(d) && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return strings.Join(out, string(filepath.ListSeparator))
}

// python returns the interpreter (sys.executable) of the first python3 on the
// sandbox PATH, then /usr/bin/python3, that imports every module of mods. The
// answer is cached per module set.
func (f *Factory) python(ctx context.Context, mods []string) (string, error) {
	key := strings.Join(slices.Sorted(slices.Values(mods)), ",")
	f.pyMu.Lock()
	defer f.pyMu.Unlock()
	if exe, ok := f.pythons[key]; ok {
		return exe, nil
	}
	var cands []string
	for _, d := range append(filepath.SplitList(f.cfg.Path), "/usr/bin") {
		p := filepath.Join(d, "python3")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 && !slices.Contains(cands, p) {
			cands = append(cands, p)
		}
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("no python3 on the sandbox PATH (%s) or in /usr/bin", f.cfg.Path)
	}
	script := "import sys\n"
	for _, m := range mods {
		script += "import " + m + "\n"
	}
	script += "print(sys.executable)\n"
	var tried []string
	for _, c := range cands {
		cmd := exec.CommandContext(ctx, c, "-c", script)
		cmd.Env = []string{"PATH=" + f.cfg.Path, "HOME=" + os.Getenv("HOME"), "LANG=C.UTF-8"}
		out, err := cmd.CombinedOutput()
		if err == nil {
			exe := strings.TrimSpace(string(out))
			if exe == "" || !filepath.IsAbs(exe) {
				exe = c
			}
			if f.pythons == nil {
				f.pythons = map[string]string{}
			}
			f.pythons[key] = exe
			return exe, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		tried = append(tried, fmt.Sprintf("%s: %s", c, lastLine(string(out), err)))
	}
	return "", fmt.Errorf("no python3 imports %s (tried %s)", strings.Join(mods, ", "), strings.Join(tried, "; "))
}

func lastLine(out string, err error) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return err.Error()
}

// applyEnv makes the sandbox's bin directory for env: python3 (and the pytest
// runner, when pytest is asked for) as the interpreter that imports
// env.PythonModules, and each of env.Links as a script that execs its target. The
// directory goes first on the sandbox's PATH. A zero Env makes nothing.
func (f *Factory) applyEnv(ctx context.Context, s *Sandbox, task string, env sandbox.Env) error {
	if env.IsZero() {
		return nil
	}
	name := env.Name
	if name == "" {
		name = "task " + task
	}
	bin := filepath.Join(s.dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		return err
	}
	scripts := map[string]string{}
	python := ""
	if len(env.PythonModules) > 0 || slices.ContainsFunc(slices.Collect(maps.Values(env.Links)), func(t string) bool {
		return firstWord(t) == "python3"
	}) {
		exe, err := f.python(ctx, env.PythonModules)
		if err != nil {
			hint := "pip install them into a python3 on PATH"
			if len(env.Packages) > 0 {
				hint = "apt-get install " + strings.Join(env.Packages, " ") + ", or " + hint
			}
			return fmt.Errorf("environment of %s: %w; fix: %s (%w)", name, err, hint, sandbox.ErrPermanent)
		}
		python = exe
		scripts["python3"] = shellQuoteWord(exe)
		if slices.Contains(env.PythonModules, "pytest") {
			scripts["pytest"] = shellQuoteWord(exe) + " -m pytest"
		}
	}
	for link, target := range env.Links {
		word, rest, _ := strings.Cut(strings.TrimSpace(target), " ")
		var abs string
		switch {
		case word == "python3" && python != "":
			abs = python
		case filepath.IsAbs(word):
			abs = word
		default:
			p, err := lookPath(word, f.cfg.Path)
			if err != nil {
				return fmt.Errorf("environment of %s: link %s -> %s: %w (%w)", name, link, target, err, sandbox.ErrPermanent)
			}
			abs = p
		}
		line := shellQuoteWord(abs)
		if rest != "" {
			line += " " + rest
		}
		scripts[link] = line
	}
	for link, line := range scripts {
		if strings.ContainsRune(link, '/') {
			return fmt.Errorf("environment of %s: link name %q has a slash (%w)", name, link, sandbox.ErrPermanent)
		}
		body := "#!/bin/sh\nexec " + line + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(bin, link), []byte(body), 0o755); err != nil {
			return err
		}
	}
	s.pathEnv = bin + string(filepath.ListSeparator) + f.cfg.Path
	for k, v := range env.Vars {
		s.vars = append(s.vars, k+"="+v)
	}
	slices.Sort(s.vars)
	return nil
}

// lookPath finds an executable named name in the directories of path.
func lookPath(name, path string) (string, error) {
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New(name + " is not on the sandbox PATH")
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	return w
}

// shellQuoteWord quotes s as one sh word.
func shellQuoteWord(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
