package swe

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

// swe imports messages and sandbox of swerl and, to read Parquet task files,
// parquet-go with what it imports; else only the standard library.
func TestImportDirection(t *testing.T) {
	allowed := append([]string{deptest.Module + "/messages", deptest.Module + "/sandbox"}, deptest.DepsOf(t, deptest.ParquetGo)...)
	deptest.OnlyStdlib(t, deptest.Module+"/swe", allowed...)
}
