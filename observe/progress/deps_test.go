package progress

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

// The progress line draws what it is told: it never reaches into the engine, the
// command line, the cluster or a backend.
func TestImportDirection(t *testing.T) {
	deptest.Forbid(t, deptest.Engine, deptest.Cmd, deptest.Cluster, deptest.Docker, deptest.Gorgonia)
}
