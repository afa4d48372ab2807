package placement

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

// TestImportDirection: placement is plain state, testable by hand; it imports only the
// standard library (no swerl package, no Proto.Actor).
func TestImportDirection(t *testing.T) {
	deptest.OnlyStdlib(t, deptest.Module+"/cluster/placement")
}
