package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/swerl/swerl/sandbox"
)

// The official SWE-bench and SWE-rebench evaluation images keep the task's
// environment in a conda env, and their harness runs every command after
// CondaActivate (its eval scripts do so before `cd /testbed`). An image with
// that layout (condaActivateFile and condaTestbedEnv) gets the same prelude.
const (
	CondaActivate     = "source /opt/miniconda3/bin/activate && conda activate testbed"
	condaActivateFile = "/opt/miniconda3/bin/activate"
	condaTestbedEnv   = "/opt/miniconda3/envs/testbed"
)

// ActivateFailedExit is the exit status of a command whose activation prelude
// failed; the command itself did not run, and its output holds what the prelude
// printed and then activateFailedMessage.
const ActivateFailedExit = 126

const activateFailedMessage = "swerl: activating the image environment failed"

// layoutScript prints "conda" when the image has the conda layout, "" when not.
const layoutScript = `if [ -f ` + condaActivateFile + ` ] && [ -d ` + condaTestbedEnv + ` ]; then echo conda; fi; exit 0`

// activations caches, per image name, the prelude the image's layout asks for.
// An image name is probed once per factory (a tag moved to another image while the
// factory lives keeps the first answer); Starts of one image probe once between
// them. Only answers are cached: a probe that failed is tried again by the next
// Start.
type activations struct {
	flight singleflight.Group
	mu     sync.Mutex
	byName map[string]string  // image name -> prelude ("" for none)
	probed func(image string) // called before each probe (tests)
}

// activate returns the prelude every command of a sandbox of ws runs first: none
// for the base image with a checkout, ws.Activate when the workspace says, else
// what the task image's layout asks for, found by a probe in its started container
// id.
func (f *Factory) activate(ctx context.Context, ws sandbox.Workspace, id string) (string, error) {
	if ws.Image == "" {
		return "", nil
	}
	if ws.Activate != "" {
		return ws.Activate, nil
	}
	a := &f.activations
	for tries := 0; ; tries++ {
		a.mu.Lock()
		p, ok := a.byName[ws.Image]
		a.mu.Unlock()
		if ok {
			return p, nil
		}
		v, err, _ := a.flight.Do(ws.Image, func() (any, error) {
			p, err := f.probeLayout(ctx, ws.Image, id)
			if err == nil {
				a.mu.Lock()
				if a.byName == nil {
					a.byName = map[string]string{}
				}
				a.byName[ws.Image] = p
				a.mu.Unlock()
			}
			return p, err
		})
		if err == nil {
			return v.(string), nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		// The probe ran in another Start's container, whose context ended: probe
		// again (in this one's, when no other Start is probing by then).
		if (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) && tries < 3 {
			continue
		}
		return "", err
	}
}

// probeLayout looks for the conda layout in container id, started from image.
func (f *Factory) probeLayout(ctx context.Context, image, id string) (string, error) {
	if h := f.activations.probed; h != nil {
		h(image)
	}
	var out strings.Builder
	code, err := f.execPlain(ctx, id, &out, layoutScript)
	if err == nil && code != 0 {
		err = fmt.Errorf("exited %d: %s", code, strings.TrimSpace(out.String()))
	}
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("probing image %s for a conda env in container %s: %w", image, short(id), err)
	}
	if strings.TrimSpace(out.String()) == "conda" {
		f.log.Debug("image has a conda testbed env: commands run activated", "image", image)
		return CondaActivate, nil
	}
	return "", nil
}

// activated returns the sandbox of container c with its prelude; when the prelude
// cannot be found it removes the container (freeing its running slot).
func (f *Factory) activated(ctx context.Context, c *ctr, ws sandbox.Workspace, spec sandbox.Spec) (*Sandbox, error) {
	prelude, err := f.activate(ctx, ws, c.id)
	if err != nil {
		f.remove(context.WithoutCancel(ctx), c.id)
		return nil, err
	}
	s := f.sandbox(c, ws, spec)
	s.activate = prelude
	return s, nil
}

// withPrelude returns command run after prelude in the same shell; a prelude that
// fails ends the script with ActivateFailedExit before the command runs.
func withPrelude(prelude, command string) string {
	if prelude == "" {
		return command
	}
	return "{ " + prelude + "\n} || { echo '" + activateFailedMessage + "' >&2; exit " +
		fmt.Sprint(ActivateFailedExit) + "; }\n" + command
}
