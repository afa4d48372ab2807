//go:build pins

// Package pins keeps the project's pinned modules in go.mod before the code that uses
// them lands (gorgonia: the tiny policy; moby: the Docker sandbox). `go mod tidy`
// considers every build tag, so these versions stay pinned; the tag keeps them out of
// every build. Remove a line once a real package imports the module.
package pins

import (
	_ "github.com/moby/moby/api/types/container"
	_ "github.com/moby/moby/client"
	_ "go4.org/unsafe/assume-no-moving-gc"
	_ "gorgonia.org/gorgonia"
	_ "gorgonia.org/tensor"
)
