package swe

import (
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

func TestImportDirection(t *testing.T) {
	deptest.OnlyStdlib(t, deptest.Module+"/swe", deptest.Module+"/messages", deptest.Module+"/sandbox")
}
