package actors

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

func TestImportDirection(t *testing.T) {
	deptest.Forbid(t, deptest.Engine, deptest.Cmd, deptest.Module+"/benchmarks", deptest.Docker, deptest.Cluster)
}
