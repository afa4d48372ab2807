package swe

import (
	"os/exec"
	"strings"
	"testing"
)

// defaultTableRepos are the repositories of the harness's default test table
// (repoDefaults): each must have an environment entry.
func TestEveryDefaultRepositoryHasAnEnvironment(t *testing.T) {
	if len(repoDefaults) != 18 {
		t.Fatalf("the default test table has %d repositories, want the harness's 18", len(repoDefaults))
	}
	for repo := range repoDefaults {
		env, ok := repoEnvs[repo]
		if !ok {
			t.Errorf("%s has a test command but no environment entry", repo)
			continue
		}
		if strings.TrimSpace(env.Offline) == "" {
			t.Errorf("%s: say what cannot be met offline (Offline is empty)", repo)
		}
		for _, p := range env.Packages {
			if p != strings.ToLower(p) || strings.ContainsAny(p, " /") {
				t.Errorf("%s: %q is not a Debian package name", repo, p)
			}
		}
		got := EnvFor(Task{Repo: repo})
		if got.Name != repo || got.Links["python"] != "python3" {
			t.Errorf("EnvFor(%s) = %+v, want its entry with python linked to python3", repo, got)
		}
	}
	for repo := range repoEnvs {
		if _, ok := repoDefaults[repo]; !ok {
			t.Errorf("%s has an environment but no test command", repo)
		}
	}
}

func TestEnvForSympyAsTheHarnessNeedsIt(t *testing.T) {
	env := EnvFor(Task{Repo: "sympy/sympy"})
	if env.Links["python"] != "python3" || len(env.PythonModules) != 1 || env.PythonModules[0] != "mpmath" || env.Packages[0] != "python3-mpmath" {
		t.Errorf("EnvFor(sympy) = %+v", env)
	}
	// The caller owns what it gets: changing it leaves the table alone.
	env.Packages[0] = "changed"
	env.Links["python"] = "changed"
	if again := EnvFor(Task{Repo: "sympy/sympy"}); again.Packages[0] != "python3-mpmath" || again.Links["python"] != "python3" {
		t.Errorf("EnvFor returned the table's own slices or maps: %+v", again)
	}
}

func TestEnvForTasksWithoutAnEntry(t *testing.T) {
	py := Task{Repo: "acme/tool", TestPatch: "diff --git a/test_x.py b/test_x.py\n"}
	if env := EnvFor(py); env.Name != "python" || env.PythonModules[0] != "pytest" || env.IsZero() {
		t.Errorf("EnvFor(python task) = %+v, want python3 with pytest", env)
	}
	goTask := Task{Repo: "acme/gotool", TestPatch: "diff --git a/x_test.go b/x_test.go\n"}
	if env := EnvFor(goTask); !env.IsZero() {
		t.Errorf("EnvFor(go task) = %+v, want nothing", env)
	}
}

// TestEnvPackagesAreInDebian asks this machine's apt for every package of the
// table (skipped where there is no apt or no package list: run apt-get update).
func TestEnvPackagesAreInDebian(t *testing.T) {
	if _, err := exec.LookPath("apt-cache"); err != nil {
		t.Skip("no apt-cache on this machine")
	}
	if out, err := exec.Command("apt-cache", "show", "--no-all-versions", "python3").CombinedOutput(); err != nil {
		t.Skipf("apt has no package lists here (run apt-get update): %s", out)
	}
	// One apt-cache call for the whole table: it prints a Package: line for each
	// package it knows.
	args := []string{"show", "--no-all-versions"}
	for _, repo := range RepoEnvNames() {
		args = append(args, EnvFor(Task{Repo: repo}).Packages...)
	}
	out, _ := exec.Command("apt-cache", args...).Output()
	known := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "Package: "); ok {
			known[name] = true
		}
	}
	for _, repo := range RepoEnvNames() {
		for _, p := range EnvFor(Task{Repo: repo}).Packages {
			if !known[p] {
				t.Errorf("%s: package %s is not in this machine's Debian (apt-cache show)", repo, p)
			}
		}
	}
}
