package node

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

// The cluster's node layer sits on the engine's actors and the cluster's own rooms
// (wire, placement, membership); the engine, the launcher and the end-to-end tests
// sit above it.
func TestImportDirection(t *testing.T) {
	deptest.Forbid(t, deptest.Engine, deptest.Cmd, deptest.Cluster+"/e2e", deptest.Module+"/benchmarks")
}
