package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swerl/swerl/sandbox/docker"
	"github.com/swerl/swerl/sandbox/sandboxtest"
)

// TestImagesBuildSympyEnv builds the real sympy environment image the way a user
// does before a docker run, then finds it there the second time.
func TestImagesBuildSympyEnv(t *testing.T) {
	sandboxtest.RequireDocker(t, docker.DefaultBaseImage)
	file := filepath.Join(t.TempDir(), "tasks.jsonl")
	line := `{"instance_id":"sympy__sympy-1","repo":"sympy/sympy","base_commit":"9ef28fba5b4d6d0168237c9c005a550e6dc27d81","problem_statement":"x","FAIL_TO_PASS":"[\"test_x\"]","version":"1.4"}` + "\n" +
		`{"instance_id":"sympy__sympy-2","repo":"sympy/sympy","base_commit":"58e78209c8577b9890e957b624466e5beed7eb08","problem_statement":"y","FAIL_TO_PASS":["test_y"]}` + "\n"
	if err := os.WriteFile(file, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"images", "build", "--tasks", file}, &out, &errOut); err != nil {
		t.Fatalf("images build: %v\n%s\n%s", err, errOut.String(), out.String())
	}
	if !strings.Contains(out.String(), "sympy/sympy") || !strings.Contains(out.String(), "1 environments") {
		t.Errorf("two sympy tasks did not make one sympy environment:\n%s", out.String())
	}
	img := ""
	for _, f := range strings.Fields(out.String()) {
		if strings.HasPrefix(f, "swerl-env:") {
			img = f
		}
	}
	if img == "" {
		t.Fatalf("no swerl-env image in the table:\n%s", out.String())
	}
	// The image holds what sympy's bin/test needs: `python` and mpmath.
	cmd := exec.Command("docker", "run", "--rm", "--network", "none", img, "bash", "-c", "python -c 'import mpmath, sys; print(sys.version_info[0])'")
	if got, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(got)) != "3" {
		t.Errorf("python in %s: %q, %v", img, got, err)
	}
	out.Reset()
	errOut.Reset()
	if err := run(context.Background(), []string{"images", "build", "--tasks", file}, &out, &errOut); err != nil {
		t.Fatalf("second images build: %v", err)
	}
	if !strings.Contains(out.String(), "0 built, 1 already there") {
		t.Errorf("the second build did not find the image:\n%s", out.String())
	}
}
