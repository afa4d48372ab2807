// Package docker is the sandbox backend that isolates each episode in a Docker
// container, driven through the Engine SDK (github.com/moby/moby/client, API
// version negotiated with the daemon; Docker 20.10 and later).
//
// A sandbox is one container: the task's own image with its repository at ImageRoot
// (/testbed by default), or the base image (swerl-base:latest, built by
// scripts/build-base-image.sh) with the task's checkout streamed into /testbed
// before the container starts, owned by root with its modes kept. A checkout whose
// Workspace.Env installs packages, links commands or sets variables runs in an env
// image instead: the base image plus that environment, built once per
// (base image, Env.Hash()) from a container with network and tagged
// swerl-env:<hash> (envimage.go); later runs and processes reuse it. A task image
// with the official SWE-bench / SWE-rebench layout (/opt/miniconda3 with an env
// named testbed) runs every command after `source /opt/miniconda3/bin/activate &&
// conda activate testbed`, as their harness does (activate.go). The container runs
// with no network, no-new-privileges, every capability dropped but CHOWN,
// DAC_OVERRIDE and FOWNER, and limits on memory, processes and CPU (Config).
//
// No container outlives its owner by much (lease.go). Its main process, under
// docker-init (which reaps zombies), is an idle loop in bash builtins that exits
// once a hard deadline (creation + Config.MaxLifetime) or its lease has passed, and
// the container is created with AutoRemove, so the daemon then removes it. The
// factory renews the lease of every live container every LeaseTTL/3 (one goroutine
// for all, writing /run/swerl-lease through the archive API). The bound: when the
// owning process dies, even by kill -9, every container it started is gone within
// Config.LeaseTTL + 2s plus the daemon's removal time, whether or not any swerl runs
// again on the host; and no container lives past its deadline. A container created
// but not yet started when its owner dies (one daemon round trip: containers start
// before the checkout is copied in) has no running loop and stays until a sweep.
//
// Commands run as `bash -c` execs, each in a session of its own; when a command
// ends, or its context does, every process of the container but docker-init and the
// idle loop is killed from inside (Docker has no API to kill an exec), and if that
// fails the container restarts (the daemon's restart, which keeps its files and its
// deadline). Output is capped while it is read (sandbox.Capture). Files move through
// the daemon's archive API. A container gone by its deadline or lease makes later
// calls fail with sandbox.ErrDied; Close then succeeds.
//
// Containers carry labels (Label*): swerl.managed=true, the run id, the creating
// host and pid, the task, the episode, the attempt and the purpose. New removes the
// containers of crashed runs on this host (Factory.Sweep); a live run's are never
// touched. Sweep does the same without a factory (`swerl sandbox sweep`), or removes
// every swerl container (All).
// With Config.WarmPool, started containers wait per (image, task) for the next
// Start; a warm container is labelled purpose=pool with no episode, and is renamed
// after the episode that takes it.
//
// Start may be called concurrently; MaxStarting bounds creations in flight,
// MaxRunning live containers, CreateRate the pace of creation. Sandbox calls follow
// sandbox.Sandbox: one at a time, Close at any time. Every Start, Exec and Diff is a
// plain call, so an external harness can time them directly.
package docker
