#!/usr/bin/env bash
# Builds swerl-base:latest, the image the docker sandbox uses for tasks that have no
# image of their own, without any registry: debootstrap a minimal Debian bookworm with
# python3, pytest, git, Go, patch and procps, tar the root filesystem and `docker import`
# it. The image is tagged swerl-base:h-<hash of this script> too, so a rerun with an
# unchanged script finds it and returns at once.
#
# Usage (as root, or with sudo available): scripts/build-base-image.sh
# Environment: SWERL_BASE_IMAGE (default swerl-base:latest),
#              SWERL_DEBIAN_MIRROR (default http://deb.debian.org/debian),
#              SWERL_FORCE_BUILD=1 to rebuild even when the image is there.
set -euo pipefail

image=${SWERL_BASE_IMAGE:-swerl-base:latest}
mirror=${SWERL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
packages=python3,python3-pytest,git,golang-go,patch,procps,ca-certificates
path=/usr/lib/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { printf '[build-base-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

script_hash=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
repo=${image%:*}
hash_tag="$repo:h-$script_hash"

command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "no Docker daemon answers (start dockerd)"

if [ "${SWERL_FORCE_BUILD:-}" != 1 ] && docker image inspect "$hash_tag" >/dev/null 2>&1; then
  docker tag "$hash_tag" "$image"
  say "$image is up to date ($hash_tag exists); nothing to build"
  exit 0
fi

sudo=
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || die "must run as root (debootstrap needs it)"
  sudo=sudo
fi

if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap"
  $sudo apt-get update -qq || die "apt-get update"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null || die "apt-get install debootstrap"
fi

work=$(mktemp -d /var/tmp/swerl-base.XXXXXX)
cleanup() {
  # debootstrap mounts proc and sys inside the target; a failed run can leave them
  # mounted, and rm must never walk into them.
  if [ -d "$work" ]; then
    { grep -o " $work/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do $sudo umount -l "$m" || true; done
    $sudo rm -rf --one-file-system "$work" || say "could not remove $work"
  fi
}
trap cleanup EXIT
rootfs=$work/rootfs

start=$SECONDS
say "debootstrap $suite (minbase + $packages) from $mirror into $rootfs"
$sudo debootstrap --variant=minbase --include="$packages" --components=main \
  "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 40 "$work/debootstrap.log" >&2
  die "debootstrap (log above)"
}
say "debootstrap done in $((SECONDS - start))s"

say "trimming the root filesystem"
$sudo rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old
$sudo mkdir -p "$rootfs/testbed"
$sudo test -x "$rootfs/usr/lib/go/bin/go" || die "golang-go did not install /usr/lib/go/bin/go"
$sudo chroot "$rootfs" /usr/lib/go/bin/go version >&2 || die "go does not run in the image"
$sudo chroot "$rootfs" python3 -c 'import pytest' || die "pytest does not import in the image"
$sudo chroot "$rootfs" git --version >&2 || die "git does not run in the image"

say "warming Go's build cache with the standard packages Go tasks use"
warm=$rootfs/tmp/swerl-warm
$sudo mkdir -p "$warm"
printf 'module warm\n\ngo 1.19\n' | $sudo tee "$warm/go.mod" >/dev/null
$sudo tee "$warm/warm_test.go" >/dev/null <<'GO'
package warm

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

var _ = []any{bufio.NewReader, bytes.NewReader, heap.Init, json.Marshal, errors.New, fmt.Sprint, io.EOF,
	math.Abs, os.Exit, path.Join, filepath.Join, reflect.TypeOf, regexp.MustCompile, sort.Ints, strconv.Itoa,
	strings.Cut, sync.NewCond, time.Now, unicode.IsSpace, utf8.RuneLen}

func TestWarm(t *testing.T) {}
GO
$sudo mount -t proc proc "$rootfs/proc"
$sudo chroot "$rootfs" env HOME=/root GOCACHE=/root/.cache/go-build GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 \
  PATH="$path" sh -c 'cd /tmp/swerl-warm && go test -count=1 ./... && go vet ./...' >&2 || { $sudo umount "$rootfs/proc"; die "warming the Go build cache"; }
$sudo umount "$rootfs/proc"
$sudo rm -rf "$warm"

say "importing the root filesystem as $hash_tag"
$sudo tar --numeric-owner --xattrs -C "$rootfs" --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* -c . |
  docker import \
    --change "ENV PATH=$path" \
    --change "ENV LANG=C.UTF-8" \
    --change "ENV GOCACHE=/root/.cache/go-build" \
    --change "LABEL swerl.base.hash=$script_hash" \
    --change "WORKDIR /testbed" \
    --change 'CMD ["bash"]' \
    - "$hash_tag" >/dev/null || die "docker import"
docker tag "$hash_tag" "$image" || die "docker tag"

# Earlier builds of this script are no longer wanted.
for old in $(docker image ls "$repo" --format '{{.Tag}}' | grep '^h-' | grep -vx "h-$script_hash" || true); do
  docker image rm "$repo:$old" >/dev/null 2>&1 || true
done

say "built $image ($hash_tag, $(docker image inspect "$image" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')) in $((SECONDS - start))s"
