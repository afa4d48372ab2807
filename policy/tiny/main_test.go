package tiny

import (
	"testing"

	"go.uber.org/goleak"
)

// No batcher goroutine outlives its requests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
