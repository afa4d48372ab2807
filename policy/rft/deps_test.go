package rft

import (
	"strings"
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

// rft is pure: of swerl it imports only messages and records (records brings
// parquet-go and internal/atomicfile), and never the actor framework, Docker or gorgonia.
func TestImportDirection(t *testing.T) {
	deptest.Forbid(t, deptest.Actors, deptest.Engine, deptest.Cmd, deptest.ProtoActor, deptest.Docker, deptest.Gorgonia)
	allowed := map[string]bool{
		deptest.Module + "/policy/rft": true,
		deptest.Module + "/messages":   true,
		deptest.Module + "/records":    true,
		// records' own import, not rft's
		deptest.Module + "/internal/atomicfile": true,
	}
	for _, d := range deptest.Deps(t) {
		if strings.HasPrefix(d, deptest.Module+"/") && !allowed[d] {
			t.Errorf("forbidden import: policy/rft may import only messages and records of swerl, but depends on %s", d)
		}
	}
}
