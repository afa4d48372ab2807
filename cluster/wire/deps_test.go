package wire

import (
	"strings"
	"testing"

	"github.com/swerl/swerl/internal/deptest"
)

// TestImportDirection: wire is the edge of the messages vocabulary. It may import
// messages and protobuf, nothing else outside the standard library, and so nothing of
// actors, the engine or Proto.Actor.
func TestImportDirection(t *testing.T) {
	allowed := append([]string{deptest.Module + "/messages"},
		deptest.DepsOf(t, "google.golang.org/protobuf/reflect/protoreflect", "google.golang.org/protobuf/runtime/protoimpl")...)
	deptest.OnlyStdlib(t, deptest.Module+"/cluster/wire", allowed...)
	deptest.Forbid(t, deptest.Cmd, deptest.Engine, deptest.Actors, deptest.ProtoActor, deptest.Docker, deptest.Gorgonia)
	for _, d := range deptest.Deps(t) {
		if strings.HasPrefix(d, deptest.Module+"/") && d != deptest.Module+"/messages" && d != deptest.Module+"/cluster/wire" {
			t.Errorf("forbidden import: wire depends on %s (rule: of swerl, only messages)", d)
		}
	}
}
