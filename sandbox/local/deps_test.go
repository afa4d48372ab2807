package local

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

func TestImportDirection(t *testing.T) {
	deptest.OnlyStdlib(t, deptest.Module+"/sandbox/local", deptest.Module+"/sandbox", deptest.Module+"/messages")
}
