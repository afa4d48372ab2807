package swe_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/sandbox/local"
	"github.com/swerl/swerl/sandbox/sandboxtest"
	"github.com/swerl/swerl/swe"
	"github.com/swerl/swerl/swe/checkout"
)

// mutate edits lines of text at random: replaced, inserted and deleted lines, some
// of them repeats of other lines so that replace's search text is not always unique.
func mutate(rng *rand.Rand, text string) string {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	var out []string
	for i, l := range lines {
		switch rng.IntN(12) {
		case 0:
			out = append(out, fmt.Sprintf("changed %d", i))
		case 1:
			out = append(out, l, fmt.Sprintf("inserted after %d", i))
		case 2: // deleted
		case 3:
			out = append(out, "    return None") // a line repeated elsewhere
		default:
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n") + "\n"
}

func TestTypePatchReproducesPatches(t *testing.T) {
	var base strings.Builder
	for i := range 60 {
		if i%6 == 3 {
			base.WriteString("    return None\n")
		} else {
			fmt.Fprintf(&base, "line %d\n", i%12) // repeats: some search texts are not unique
		}
	}
	var replaces, fallbacks int
	defer func() {
		if !t.Failed() && (fallbacks == 0 || replaces <= fallbacks) {
			t.Errorf("replace used %d times, fell back %d times: the scenario must exercise both", replaces, fallbacks)
		}
	}()
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			files := map[string]string{"src/a.py": base.String(), "src/b.py": base.String(), "gone.txt": "bye\n"}
			repo, commit := sandboxtest.Repo(t, files)
			scratch, _ := sandboxtest.Repo(t, files)
			if err := os.Remove(filepath.Join(scratch, "gone.txt")); err != nil {
				t.Fatal(err)
			}
			patch, err := checkout.Diff(context.Background(), scratch, map[string][]byte{
				"src/a.py": []byte(mutate(rng, base.String())), "src/b.py": []byte(mutate(rng, base.String())),
				"src/new.py": []byte("def fresh():\n    return 1\n"),
			})
			if err != nil {
				t.Fatal(err)
			}
			steps, err := swe.TypePatch(patch)
			if err != nil {
				t.Fatal(err)
			}
			f, err := local.New(local.Config{Resolver: sandboxtest.Resolver{Workspace: sandbox.Workspace{Checkout: repo, BaseCommit: commit}}, Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			sb, err := f.Start(context.Background(), sandboxtest.Spec("t"))
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Close(context.Background())
			s := swe.NewSession(sb, swe.ScaffoldConfig{})
			for _, st := range steps {
				out, err := s.Exec(context.Background(), st.Command)
				if err != nil {
					t.Fatal(err)
				}
				if st.Fallback != "" {
					replaces++
				}
				if strings.HasPrefix(out.Text, "Error") && st.Fallback != "" {
					fallbacks++
					out, err = s.Exec(context.Background(), st.Fallback)
				}
				if err != nil || strings.HasPrefix(out.Text, "Error") || strings.HasPrefix(out.Text, "Usage") {
					t.Fatalf("step %q failed: %v\n%s", st.Command, err, out.Text)
				}
			}
			got, err := s.Diff(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got != patch {
				t.Fatalf("typed patch differs (%d fallbacks)\nwant:\n%s\ngot:\n%s", fallbacks, patch, got)
			}
		})
	}
}
