package external

import (
	"strings"
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

// external imports, of swerl, only messages, policy and records (records brings
// parquet-go), and never the actor framework, Docker or gorgonia.
func TestImportDirection(t *testing.T) {
	deptest.Forbid(t, deptest.Actors, deptest.Engine, deptest.Cmd, deptest.ProtoActor, deptest.Docker, deptest.Gorgonia)
	allowed := map[string]bool{
		deptest.Module + "/policy/external":     true,
		deptest.Module + "/messages":            true,
		deptest.Module + "/policy":              true,
		deptest.Module + "/records":             true,
		deptest.Module + "/internal/atomicfile": true,
	}
	for _, d := range deptest.Deps(t) {
		if strings.HasPrefix(d, deptest.Module+"/") && !allowed[d] {
			t.Errorf("forbidden import: policy/external may import only messages, policy and records of swerl, but depends on %s", d)
		}
	}
}
