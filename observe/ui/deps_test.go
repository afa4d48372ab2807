package ui

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

// The page sits beside the engine: it reads the engine's reports (and draws its curve)
// but knows nothing of the commands, the cluster, or a browser.
func TestImportDirection(t *testing.T) {
	deptest.Forbid(t, deptest.Cmd, deptest.Cluster, "github.com/chromedp")
}
