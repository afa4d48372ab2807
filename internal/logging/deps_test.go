package logging

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

func TestImportDirection(t *testing.T) {
	deptest.Forbid(t, deptest.Module+"/messages", deptest.Actors, deptest.Engine)
}
