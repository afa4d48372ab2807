package openai

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

// The client needs only the standard library, x/sync's semaphore and swerl's
// vocabulary (swe brings sandbox, for its command protocol, and parquet-go, for
// its task loader).
func TestImportDirection(t *testing.T) {
	allowed := append([]string{"golang.org/x/sync/semaphore",
		deptest.Module + "/messages", deptest.Module + "/policy", deptest.Module + "/swe", deptest.Module + "/sandbox"},
		deptest.DepsOf(t, deptest.ParquetGo)...)
	deptest.OnlyStdlib(t, deptest.Module+"/policy/openai", allowed...)
}
