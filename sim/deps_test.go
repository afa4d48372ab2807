package sim

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

func TestImportDirection(t *testing.T) {
	m := deptest.Module
	// parquet-go comes with swe (its task loader reads Parquet).
	allowed := append([]string{m + "/messages", m + "/sandbox", m + "/swe", m + "/policy"}, deptest.DepsOf(t, deptest.ParquetGo)...)
	deptest.OnlyStdlib(t, m+"/sim", allowed...)
}
