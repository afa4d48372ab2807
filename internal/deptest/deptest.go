// Package deptest enforces DESIGN.md's import direction
// (cmd -> {engine, cluster/node} -> actors -> {policy, sandbox, swe, sim} -> messages;
// cluster/wire, cluster/placement and cluster/membership below cluster/node): each package
// has a test that lists its transitive imports and fails on a forbidden one.
package deptest

import (
	"os/exec"
	"strings"
	"testing"
)

// Module is swerl's module path.
const Module = "github.com/swerl/swerl"

// Layers of the engine, outermost first.
var (
	Cmd        = Module + "/cmd"
	Engine     = Module + "/engine"
	Actors     = Module + "/actors"
	Cluster    = Module + "/cluster"
	ProtoActor = "github.com/asynkron/protoactor-go"
	Docker     = "github.com/moby/moby"
	Gorgonia   = "gorgonia.org/"
)

// Deps returns the transitive imports of the package in the current directory
// (excluding tests).
func Deps(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps: %v\n%s", err, stderr)
	}
	return strings.Fields(string(out))
}

// DepsOf returns the packages outside the standard library that pkgs are built
// from, pkgs included: what a package may import along with them (for
// OnlyStdlib's allowed list).
func DepsOf(t *testing.T, pkgs ...string) []string {
	t.Helper()
	args := append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}"}, pkgs...)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %v: %v\n%s", pkgs, err, stderr)
	}
	return strings.Fields(string(out))
}

// ParquetGo is the Parquet library that records and swe's task loader use.
const ParquetGo = "github.com/parquet-go/parquet-go"

// Forbid fails t if the package imports, directly or not, any path under a prefix.
func Forbid(t *testing.T, prefixes ...string) {
	t.Helper()
	for _, d := range Deps(t) {
		for _, p := range prefixes {
			if d == p || strings.HasPrefix(d, p+"/") || (strings.HasSuffix(p, "/") && strings.HasPrefix(d, p)) {
				t.Errorf("forbidden import: this package depends on %s (rule: no %s)", d, p)
			}
		}
	}
}

// OnlyStdlib fails t if the package imports anything outside the standard library
// except the given paths (and itself).
func OnlyStdlib(t *testing.T, self string, allowed ...string) {
	t.Helper()
outer:
	for _, d := range Deps(t) {
		if d == self {
			continue
		}
		for _, a := range allowed {
			if d == a {
				continue outer
			}
		}
		t.Errorf("forbidden import: %s may import only the standard library (and %v), but depends on %s", self, allowed, d)
	}
}
