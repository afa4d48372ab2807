package tiny

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

func TestImportDirection(t *testing.T) {
	deptest.Forbid(t, deptest.Actors, deptest.Engine, deptest.Cmd, deptest.ProtoActor, deptest.Docker)
}
