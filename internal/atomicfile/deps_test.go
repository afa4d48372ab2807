package atomicfile

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

func TestImportDirection(t *testing.T) {
	deptest.OnlyStdlib(t, deptest.Module+"/internal/atomicfile")
}
