package sim

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

func TestImportDirection(t *testing.T) {
	m := deptest.Module
	deptest.OnlyStdlib(t, m+"/sim", m+"/messages", m+"/sandbox", m+"/swe", m+"/policy")
}
