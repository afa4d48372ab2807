package membership

import (
	"strings"
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

// TestImportDirection: membership sits on Proto.Actor's cluster layer and its
// providers' clients (etcd, Kubernetes); of swerl it may import only internal/logging,
// so that placement and the head can depend on it without pulling in the engine.
func TestImportDirection(t *testing.T) {
	deptest.Forbid(t, deptest.Cmd, deptest.Engine, deptest.Actors, deptest.Docker, deptest.Gorgonia)
	self, logging := deptest.Module+"/cluster/membership", deptest.Module+"/internal/logging"
	for _, d := range deptest.Deps(t) {
		if strings.HasPrefix(d, deptest.Module+"/") && d != self && d != logging {
			t.Errorf("forbidden import: membership depends on %s (rule: of swerl, only internal/logging)", d)
		}
	}
}
