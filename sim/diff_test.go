package sim

import (
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/quick"
)

// mutateFiles applies random line edits (replace, insert, delete), a new file and
// sometimes a deleted one.
func mutateFiles(r *rand.Rand, base map[string]string) map[string]string {
	out := maps.Clone(base)
	for _, name := range slices.Sorted(maps.Keys(out)) {
		lines := splitLines(out[name])
		for range r.IntN(5) {
			switch op := r.IntN(3); {
			case op == 0 && len(lines) > 0:
				lines[r.IntN(len(lines))] = "return " + itoa(r.IntN(10))
			case op == 1:
				i := r.IntN(len(lines) + 1)
				lines = slices.Insert(lines, i, "t = a + "+itoa(r.IntN(10)))
			case len(lines) > 0:
				i := r.IntN(len(lines))
				lines = slices.Delete(lines, i, i+1)
			}
		}
		out[name] = strings.Join(lines, "\n")
		if len(lines) > 0 {
			out[name] += "\n"
		}
	}
	if r.IntN(3) == 0 {
		out["new.py"] = "def f1 ( a ) :\nreturn a\n"
	}
	if r.IntN(4) == 0 {
		delete(out, "mod0.py")
	}
	return out
}

func TestDiffApplyProperty(t *testing.T) {
	tasks := Generate(Default(), 5)
	f := func(seed uint64) bool {
		r := rand.New(rand.NewPCG(seed, 2))
		base := tasks[r.IntN(len(tasks))].Files()
		cur := mutateFiles(r, base)
		patch := unifiedDiff(base, cur)
		got, err := applyPatch(base, patch)
		if err != nil {
			t.Logf("seed %d: %v\n%s", seed, err, patch)
			return false
		}
		if !maps.Equal(got, cur) {
			t.Logf("seed %d: applied patch differs\n%s", seed, patch)
			return false
		}
		return (patch == "") == maps.Equal(base, cur)
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 500}); err != nil {
		t.Error(err)
	}
}

func TestApplyPatchWithContext(t *testing.T) {
	base := handTask().Files()
	patch := `diff --git a/mod0.py b/mod0.py
index 1111111..2222222 100644
--- a/mod0.py
+++ b/mod0.py
@@ -3,3 +3,3 @@ def f1 ( a ) :
 return t + 1
 def f2 ( a , b ) :
-return a - b
+return a + b
`
	got, err := applyPatch(base, patch)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got["mod0.py"], "return a + b") || got["mod1.py"] != base["mod1.py"] {
		t.Errorf("applied: %q", got["mod0.py"])
	}
}

func TestApplyPatchRejects(t *testing.T) {
	base := handTask().Files()
	for name, patch := range map[string]string{
		"garbage":      "this is not a patch\n",
		"no plus":      "--- a/mod0.py\n@@ -5 +5 @@\n-return a - b\n+return a + b\n",
		"wrong old":    "--- a/mod0.py\n+++ b/mod0.py\n@@ -5 +5 @@\n-return a * b\n+return a + b\n",
		"wrong place":  "--- a/mod0.py\n+++ b/mod0.py\n@@ -4 +4 @@\n-return a - b\n+return a + b\n",
		"missing file": "--- a/mod5.py\n+++ b/mod5.py\n@@ -1 +1 @@\n-x\n+y\n",
		"cut short":    "--- a/mod0.py\n+++ b/mod0.py\n@@ -5,2 +5,2 @@\n-return a - b\n",
		"bad header":   "--- a/mod0.py\n+++ b/mod0.py\n@@ -x +5 @@\n-return a - b\n+return a + b\n",
		"past the end": "--- a/mod0.py\n+++ b/mod0.py\n@@ -40 +40 @@\n-return a - b\n+return a + b\n",
		"out of order": "--- a/mod0.py\n+++ b/mod0.py\n@@ -5 +5 @@\n-return a - b\n+return a + b\n@@ -1 +1 @@\n-def f1 ( a ) :\n+def f1 ( b ) :\n",
		"stray line":   "--- a/mod0.py\n+++ b/mod0.py\n@@ -5 +5 @@\n-return a - b\n+return a + b\nrm -rf /\n",
	} {
		if _, err := applyPatch(base, patch); !errors.Is(err, errPatch) {
			t.Errorf("%s: applyPatch = %v, want errPatch", name, err)
		}
	}
	if got, err := applyPatch(base, ""); err != nil || !maps.Equal(got, base) {
		t.Errorf("empty patch: %v", err)
	}
}
