package prom

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

// TestImportDirection: the metrics watch the engine from outside; they never import it
// (nor the commands, the cluster, Docker or the learner).
func TestImportDirection(t *testing.T) {
	deptest.Forbid(t, deptest.Engine, deptest.Cmd, deptest.Cluster, deptest.Docker, deptest.Gorgonia)
}
