package engine

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

func TestImportDirection(t *testing.T) {
	// The cluster plugs into Config.Cluster from above: the engine knows none of it
	// (nor its etcd and Kubernetes clients).
	deptest.Forbid(t, deptest.Cmd, deptest.Module+"/benchmarks", deptest.Cluster)
}
