//go:build pins

// Package pins keeps pinned modules in go.mod that no package imports directly:
// go4.org/unsafe/assume-no-moving-gc must stay at 20231121144256 (gorgonia's older
// requirement makes binaries panic at start on Go 1.26). `go mod tidy` considers
// every build tag, so the version stays pinned; the tag keeps it out of every build.
package pins

import (
	_ "go4.org/unsafe/assume-no-moving-gc"
)
