package builtin

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

func TestImportDirection(t *testing.T) {
	deptest.Forbid(t, deptest.Actors, deptest.Engine, deptest.ProtoActor, deptest.Docker, deptest.Gorgonia)
}
