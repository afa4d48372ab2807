package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/sandbox/docker"
	"github.com/swerl/swerl/swe"
)

const imagesUsage = `usage: swerl images build --tasks FILE|builtin [--sandbox-image BASE]

Builds, for the docker sandbox, the env image of every repository environment the
tasks need (their repository's entry in the per-repository table), once per distinct
environment, on the base image; images already on the daemon are kept. Tasks with a
docker_image of their own need none. Prints a table and exits non-zero if a build
failed. The build containers need the default bridge network (apt's mirror).
`

func imagesCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "build" {
		fmt.Fprint(stderr, imagesUsage)
		return errors.New("images: want 'images build --tasks FILE'")
	}
	fs := flag.NewFlagSet("images build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("tasks", "", "task file (JSONL), or 'builtin'")
	base := fs.String("sandbox-image", docker.DefaultBaseImage, "base image the env images are built on")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *file == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, imagesUsage)
		return errors.New("images build: give --tasks FILE and no other arguments")
	}
	tasks, _, loadErr := engine.LoadTaskFile(*file)
	if loadErr != nil {
		fmt.Fprintf(stderr, "%v\n", loadErr)
		if len(tasks) == 0 {
			return fmt.Errorf("images build: no valid task in %s", *file)
		}
	}
	envs, ownImage := distinctEnvs(tasks)

	f, err := docker.New(ctx, docker.Config{Resolver: noWorkspaces{}, BaseImage: *base})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		f.Close(cctx)
	}()

	built, cached, failed := 0, 0, 0
	for i, e := range envs {
		progress := fmt.Sprintf("  [%d/%d] %s", i+1, len(envs), e.name())
		begin := time.Now()
		ref, ok, err := f.LookupEnvImage(ctx, e.env)
		switch {
		case err != nil:
		case ref == *base:
			e.result = "base image" // nothing to build
		case ok:
			e.result = "cached"
			cached++
		default:
			fmt.Fprintf(stderr, "%s: building %s ...\n", progress, ref)
			if ref, err = f.EnsureEnvImage(ctx, e.env); err == nil {
				e.result = "built"
				built++
			}
		}
		e.image, e.err, e.elapsed = ref, err, time.Since(begin)
		if err != nil {
			failed++
			e.result = "FAILED"
			if errors.Is(err, sandbox.ErrPermanent) {
				e.result = "FAILED (permanent)"
			}
			fmt.Fprintf(stderr, "%s: %s after %.1fs: %v\n", progress, e.result, e.elapsed.Seconds(), err)
			continue
		}
		fmt.Fprintf(stderr, "%s: %s %s in %.1fs\n", progress, e.image, e.result, e.elapsed.Seconds())
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENV\tTASKS\tPACKAGES\tIMAGE\tRESULT\tSECONDS\tDETAIL")
	for _, e := range envs {
		detail := ""
		if e.err != nil {
			detail = oneLine(strings.SplitN(e.err.Error(), "\n", 2)[0], 160)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%.1f\t%s\n", e.name(), e.tasks, len(e.env.Packages), orDash(e.image), e.result,
			e.elapsed.Seconds(), detail)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%s on %s: %d environments, %d built, %d already there, %d failed", *file, *base, len(envs), built, cached, failed)
	if ownImage > 0 {
		fmt.Fprintf(stdout, "; %d tasks have an image of their own", ownImage)
	}
	fmt.Fprintln(stdout)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case failed > 0:
		return fmt.Errorf("images build: %d of %d env images failed (errors above)", failed, len(envs))
	case loadErr != nil:
		return fmt.Errorf("images build: %s has bad lines (listed above)", *file)
	}
	return nil
}

// envRow is one distinct environment of the task file and what became of its image.
type envRow struct {
	env     sandbox.Env
	names   []string // Env.Name of the tasks' envs with this hash, first seen first
	tasks   int
	image   string
	result  string
	elapsed time.Duration
	err     error
}

func (e *envRow) name() string {
	if len(e.names) == 0 {
		return "(none)"
	}
	return strings.Join(e.names, ",")
}

// distinctEnvs returns the environments of the tasks without an image of their own,
// one per Env.Hash, in the order first met, and how many tasks have an image.
func distinctEnvs(tasks []swe.Task) (envs []*envRow, ownImage int) {
	byHash := map[string]*envRow{}
	for _, t := range tasks {
		if t.DockerImage != "" {
			ownImage++
			continue
		}
		env := swe.EnvFor(t)
		h := env.Hash()
		e := byHash[h]
		if e == nil {
			e = &envRow{env: env}
			byHash[h] = e
			envs = append(envs, e)
		}
		e.tasks++
		if env.Name != "" && !slices.Contains(e.names, env.Name) {
			e.names = append(e.names, env.Name)
		}
	}
	return envs, ownImage
}

// noWorkspaces is the resolver of a factory that only builds images.
type noWorkspaces struct{}

func (noWorkspaces) Resolve(_ context.Context, t messages.TaskRef) (sandbox.Workspace, error) {
	return sandbox.Workspace{}, fmt.Errorf("task %s: swerl images starts no sandboxes", t.ID)
}
