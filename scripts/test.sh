#!/usr/bin/env bash
# README's test command: everything a fresh machine (Go, gcc, Docker, apt) needs to run
# swerl's tests, then the tests, one stage after another. The first stage that fails
# stops the script with a line naming it and a non-zero exit; .ci/run calls this script
# and adds only what CI needs after it.
#
# Usage: bash scripts/test.sh
# Environment:
#   SWERL_REQUIRE_DOCKER=1   no Docker daemon is a failure (of the daemon stage and of
#                            every Docker test) instead of a skip; .ci/run sets it.
#   SWERL_REQUIRE_ETCD=1     no etcd binary is a failure of the cluster's etcd test
#                            instead of a skip; .ci/run sets it.
#   SWERL_REQUIRE_PROTOC=1   no protoc / protoc-gen-go is a failure of the test that
#                            regenerates cluster/wire; .ci/run sets it.
#   SWERL_REQUIRE_BROWSER=1  no chromium is a failure of the live page's browser test
#                            instead of a skip; .ci/run sets it.
#   SWERL_TEST_TIMEOUT       go test's -timeout per package run (default 30m).
set -euo pipefail
cd "$(dirname "$0")/.."

# go test's -timeout. The slowest package under -race (engine, with its Docker gold
# run) took 485 s alone on a 2-core machine and 628 s with `stress -c 2` beside it;
# 30 minutes leaves about 3x headroom for a loaded CI machine, and a hung test still
# ends the run in bounded time.
timeout=${SWERL_TEST_TIMEOUT:-30m}

say() { printf '[test %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
current=""
# stage NAME: starts a stage; a failure anywhere until the next stage names it.
stage() {
	current=$1
	say "== $current"
}
on_exit() {
	local rc=$?
	if [ "$rc" -ne 0 ]; then
		say "FAILED at stage '$current' (exit $rc)" >&2
	else
		say "all stages passed"
	fi
	exit "$rc"
}
trap on_exit EXIT

sudo=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; fi

stage toolchain
go version

stage packages
# The local sandbox and the grader run the Python tasks' tests with Debian's python3 and
# pytest; the grader applies patches with git and patch.
need=()
/usr/bin/python3 -c 'import pytest' >/dev/null 2>&1 || need+=(python3-pytest)
command -v patch >/dev/null 2>&1 || need+=(patch)
command -v git >/dev/null 2>&1 || need+=(git)
# The cluster: protoc regenerates cluster/wire in a test; etcd is the membership store
# of the etcd provider's end-to-end test.
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
# The live page's browser test drives Debian's chromium headless.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
	say "installing ${need[*]} from Debian's packages"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi
/usr/bin/python3 -c 'import pytest; print("pytest", pytest.__version__)'
# protoc-gen-go at the version of go.mod's google.golang.org/protobuf (the generated
# code's header names it), from the module proxy.
pgg_version=$(go list -m -f '{{.Version}}' google.golang.org/protobuf)
gobin=$(go env GOPATH)/bin
if ! "$gobin/protoc-gen-go" --version 2>/dev/null | grep -F "$pgg_version" >/dev/null; then
	say "installing protoc-gen-go $pgg_version"
	go install "google.golang.org/protobuf/cmd/protoc-gen-go@$pgg_version"
fi
export PATH="$gobin:$PATH"
protoc --version
etcd --version | sed -n 1p  # sed reads it all: head would end etcd by SIGPIPE under pipefail
chromium --version

stage "docker daemon"
docker_ok=0
if docker info >/dev/null 2>&1; then
	docker_ok=1
elif command -v dockerd >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	say "no daemon answers; starting dockerd (log: /tmp/swerl-dockerd.log)"
	(dockerd >/tmp/swerl-dockerd.log 2>&1 &)
	for _ in $(seq 1 60); do
		if docker info >/dev/null 2>&1; then docker_ok=1; break; fi
		sleep 1
	done
fi
if [ "$docker_ok" = 1 ]; then
	say "a Docker daemon answers"
elif [ "${SWERL_REQUIRE_DOCKER:-}" = 1 ]; then
	say "no Docker daemon answers, and SWERL_REQUIRE_DOCKER=1" >&2
	exit 1
else
	say "no Docker daemon answers: the Docker tests will be SKIPPED (each says so; SWERL_REQUIRE_DOCKER=1 makes this a failure)"
fi

stage "sandbox base image"
if [ "$docker_ok" = 1 ]; then
	bash scripts/build-base-image.sh
	# The stand-in for an official SWE-bench image (conda env activated for every
	# command) that sandbox/docker's and swe's tests run tasks in.
	bash scripts/build-official-test-image.sh
else
	say "skipped: no Docker daemon"
fi

stage gofmt
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	say "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi

stage "go vet"
go vet ./...

stage "go test -race"
# Everything, with the race detector. The fault-injection suite runs a few of its seeds
# here (engine/race_test.go) and all of them in the plain run below.
# The cluster's end-to-end tests run on their own, next: they start swerl processes and
# containers, and beside the other Docker tests they would load the daemon enough to
# skew their short leases.
go test -race -count=1 -timeout "$timeout" $(go list ./... | grep -v '/cluster/e2e$')

stage "cluster end-to-end (swerl processes on 127.0.0.1 and in Docker containers, etcd)"
go test -race -count=1 -timeout "$timeout" ./cluster/e2e

stage "go test (no race: the 20-seed fault suite and the learning test)"
# Tests that the race detector would slow 8x: the whole fault-injection suite and the
# shortened `swerl train` that must learn (engine/learn_test.go is built only without
# -race).
go test -count=1 -timeout "$timeout" -run '^(TestFaultInjection|TestTrainLearns)$' ./engine
