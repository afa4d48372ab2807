package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swerl/swerl/sandbox/sandboxtest"
)

// Real SWE-bench records graded by `swerl tasks validate`, when this machine has
// them and a mirror of their repository (CI has neither: no copy of sympy may be
// committed or fetched there):
//
//	SWERL_SWEBENCH_RECORDS  a task file of real records (default
//	                        ../../../shared/swebench/dev-sympy.jsonl from here)
//	SWERL_SWEBENCH_REPOS    a mirror directory holding owner__name clones
//	                        (e.g. sympy__sympy -> a clone or bare mirror of sympy)
//	SWERL_SWEBENCH_SANDBOX  local (default), docker, or "local,docker"
//
// Every gold patch must resolve and every empty patch must not.
func TestRealSWEBenchRecords(t *testing.T) {
	repos := os.Getenv("SWERL_SWEBENCH_REPOS")
	records := os.Getenv("SWERL_SWEBENCH_RECORDS")
	if records == "" {
		records = filepath.Join("..", "..", "..", "shared", "swebench", "dev-sympy.jsonl")
	}
	if repos == "" {
		t.Skip("SWERL_SWEBENCH_REPOS is not set: no mirror of the records' repositories on this machine (see the comment above)")
	}
	if _, err := os.Stat(records); err != nil {
		t.Skipf("no real records at %s (set SWERL_SWEBENCH_RECORDS): %v", records, err)
	}
	backends := os.Getenv("SWERL_SWEBENCH_SANDBOX")
	if backends == "" {
		backends = "local"
	}
	checkouts := t.TempDir()
	for _, backend := range strings.Split(backends, ",") {
		t.Run(backend, func(t *testing.T) {
			if backend == "docker" {
				sandboxtest.RequireDocker(t)
			}
			var out, errOut bytes.Buffer
			err := run(context.Background(), []string{"tasks", "validate", records, "--sandbox", backend,
				"--repos", repos, "--checkouts", checkouts}, &out, &errOut)
			t.Logf("%s\n%s", errOut.String(), out.String())
			if err != nil {
				t.Fatalf("tasks validate on real records (%s sandbox): %v", backend, err)
			}
		})
	}
}
