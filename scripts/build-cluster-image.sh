#!/usr/bin/env bash
# Builds swerl:local, the cluster members' image (deploy/Dockerfile), without any
# registry: a static swerl binary (CGO_ENABLED=0) on the locally built Debian base
# image, which is built first (scripts/build-base-image.sh) when it is missing. The
# build context is a temporary directory holding only the binary and the Dockerfile.
# An unchanged tree builds the same binary (-trimpath), so Docker's cache gives back
# the same image at once; a changed one replaces the tag and the old image is removed
# when no container uses it.
#
# Usage: scripts/build-cluster-image.sh
# Environment: SWERL_CLUSTER_IMAGE (default swerl:local),
#              SWERL_BASE_IMAGE (default swerl-base:latest).
set -euo pipefail
cd "$(dirname "$0")/.."

image=${SWERL_CLUSTER_IMAGE:-swerl:local}
base=${SWERL_BASE_IMAGE:-swerl-base:latest}
# The legacy builder resolves FROM in the local image store and never pulls with
# --pull=false; BuildKit is often not installed (no docker buildx) on CI machines.
export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0}

say() { printf '[build-cluster-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "no Docker daemon answers (start dockerd)"

start=$SECONDS
if ! docker image inspect "$base" >/dev/null 2>&1; then
  say "base image $base is missing: building it"
  SWERL_BASE_IMAGE=$base bash scripts/build-base-image.sh
fi

ctx=$(mktemp -d "${TMPDIR:-/tmp}/swerl-cluster-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT

say "building swerl (CGO_ENABLED=0)"
CGO_ENABLED=0 go build -trimpath -o "$ctx/swerl" ./cmd/swerl || die "go build ./cmd/swerl"
cp deploy/Dockerfile "$ctx/Dockerfile"

old=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
say "docker build $image FROM $base"
docker build --pull=false --build-arg BASE="$base" -t "$image" "$ctx" >"$ctx/build.log" 2>&1 || {
  tail -n 40 "$ctx/build.log" >&2
  die "docker build (log above)"
}
new=$(docker image inspect --format '{{.Id}}' "$image")
if [ -n "$old" ] && [ "$old" != "$new" ]; then
  # The previous build, untagged now; kept if a container still uses it.
  docker image rm "$old" >/dev/null 2>&1 || true
fi
say "built $image (${new#sha256:}) in $((SECONDS - start))s"
