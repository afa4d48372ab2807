package records

import (
	"strings"
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

// records imports messages, internal/atomicfile and parquet-go (with its own
// dependencies), nothing else of swerl, and never the actor framework or Docker.
func TestImportDirection(t *testing.T) {
	deptest.Forbid(t, deptest.Actors, deptest.Engine, deptest.Cmd, deptest.ProtoActor, deptest.Docker, deptest.Gorgonia)
	self := deptest.Module + "/records"
	for _, d := range deptest.Deps(t) {
		if strings.HasPrefix(d, deptest.Module+"/") && d != self && d != deptest.Module+"/messages" && d != deptest.Module+"/internal/atomicfile" {
			t.Errorf("forbidden import: records may import only messages and internal/atomicfile of swerl, but depends on %s", d)
		}
	}
}
