package openai

import (
	"testing"

	"go.uber.org/goleak"
)

// No connection or timer goroutine outlives the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
