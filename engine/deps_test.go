package engine

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

func TestImportDirection(t *testing.T) {
	deptest.Forbid(t, deptest.Cmd, deptest.Module+"/benchmarks")
}
