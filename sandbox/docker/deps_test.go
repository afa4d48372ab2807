package docker

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

// The Docker backend sits beside the other backends: it may use the Docker client
// (deptest.Docker) but never the layers above it.
func TestImportDirection(t *testing.T) {
	deptest.Forbid(t, deptest.Cmd, deptest.Engine, deptest.Actors, deptest.ProtoActor, deptest.Gorgonia)
}
