#!/usr/bin/env bash
# Builds swerl-official-test:latest, a stand-in for an official SWE-bench / SWE-rebench
# evaluation image, without any registry: on top of swerl-base:latest it lays out
# what those images have and what their harness relies on,
#
#   /opt/miniconda3/bin/activate        sourced first; defines the shell function
#                                       `conda`, whose `conda activate NAME` sources
#                                       /opt/miniconda3/envs/NAME/bin/activate
#   /opt/miniconda3/envs/testbed        the task's environment (here a venv over the
#                                       system's python3 and pytest)
#   /testbed                            the repository, committed at its base commit
#
# and `python` exists only inside the env, so a command that runs without
# `source /opt/miniconda3/bin/activate && conda activate testbed` fails. The tests of
# the docker sandbox (sandbox/docker/activate_test.go) and of the grader
# (swe/official_test.go) use it.
#
# The image is tagged swerl-official-test:h-<hash of this script and of the base
# image's id> too, so a rerun with neither changed finds it and returns at once.
#
# Usage: scripts/build-official-test-image.sh (after scripts/build-base-image.sh)
# Environment: SWERL_OFFICIAL_TEST_IMAGE (default swerl-official-test:latest),
#              SWERL_BASE_IMAGE (default swerl-base:latest),
#              SWERL_FORCE_BUILD=1 to rebuild even when the image is there.
set -euo pipefail

image=${SWERL_OFFICIAL_TEST_IMAGE:-swerl-official-test:latest}
base=${SWERL_BASE_IMAGE:-swerl-base:latest}

say() { printf '[build-official-test-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "no Docker daemon answers (start dockerd)"
base_id=$(docker image inspect --format '{{.Id}}' "$base" 2>/dev/null) ||
  die "base image $base is not there: build it with scripts/build-base-image.sh"

hash=$({ sha256sum <"${BASH_SOURCE[0]}"; echo "$base_id"; } | sha256sum | cut -c1-16)
repo=${image%:*}
hash_tag="$repo:h-$hash"

if [ "${SWERL_FORCE_BUILD:-}" != 1 ] && docker image inspect "$hash_tag" >/dev/null 2>&1; then
  docker tag "$hash_tag" "$image"
  say "$image is up to date ($hash_tag exists); nothing to build"
  exit 0
fi

start=$SECONDS
cid=$(docker create --network none --label swerl.build=official-test "$base" sleep infinity) ||
  die "docker create from $base"
trap 'docker rm -f "$cid" >/dev/null 2>&1 || true' EXIT
docker start "$cid" >/dev/null || die "docker start"

say "laying out /opt/miniconda3 and /testbed in container ${cid:0:12}"
docker exec -i "$cid" bash -euo pipefail -s <<'SETUP' || die "setting up the image (output above)"
export PYTHONDONTWRITEBYTECODE=1
# The conda stand-in: what `source /opt/miniconda3/bin/activate` gives the harness's
# eval scripts (a `conda` function), not conda itself.
mkdir -p /opt/miniconda3/bin /opt/miniconda3/envs
cat >/opt/miniconda3/bin/activate <<'ACTIVATE'
# swerl's stand-in for miniconda's bin/activate (scripts/build-official-test-image.sh):
# sourced, it defines `conda`, whose `conda activate NAME` sources the env's activate.
export CONDA_ROOT=/opt/miniconda3
conda() {
  case "${1-}" in
  activate)
    local name=${2:-}
    if [ -z "$name" ] || [ ! -f "$CONDA_ROOT/envs/$name/bin/activate" ]; then
      echo "EnvironmentNameNotFound: Could not find conda environment: ${name:-(none)}" >&2
      return 1
    fi
    . "$CONDA_ROOT/envs/$name/bin/activate" || return
    export CONDA_DEFAULT_ENV=$name CONDA_PREFIX=$CONDA_ROOT/envs/$name
    ;;
  deactivate)
    if ! declare -F deactivate >/dev/null; then return 0; fi
    deactivate
    unset CONDA_DEFAULT_ENV CONDA_PREFIX
    ;;
  *)
    echo "conda: this stand-in knows only 'conda activate NAME' and 'conda deactivate'" >&2
    return 1
    ;;
  esac
}
ACTIVATE

python3 -m venv --system-site-packages --without-pip /opt/miniconda3/envs/testbed

# The repository: a small package whose tests need the env.
mkdir -p /testbed/rangeutil /testbed/tests
cd /testbed
cat >rangeutil/__init__.py <<'PY'
"""Small range helpers."""


def clamp(x, lo, hi):
    """Returns x limited to [lo, hi]."""
    if x < lo:
        return lo
    return x
PY
cat >tests/test_x.py <<'PY'
import os
import sys

from rangeutil import clamp


def test_runs_in_testbed_env():
    assert sys.prefix == "/opt/miniconda3/envs/testbed"
    assert os.environ.get("CONDA_DEFAULT_ENV") == "testbed"


def test_low():
    assert clamp(-5, 0, 10) == 0


def test_inside():
    assert clamp(5, 0, 10) == 5
PY
printf '__pycache__/\n.pytest_cache/\n' >.gitignore
printf '# rangeutil\n\nTests: `python -m pytest -rA tests/test_x.py` in the testbed env.\n' >README.md
git init -q -b main .
git add -A
# Fixed identity and dates: every build commits the same base commit.
GIT_AUTHOR_NAME=swerl GIT_AUTHOR_EMAIL=swerl@swerl.invalid GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' \
  GIT_COMMITTER_NAME=swerl GIT_COMMITTER_EMAIL=swerl@swerl.invalid GIT_COMMITTER_DATE='2024-01-01T00:00:00Z' \
  git commit -q -m 'rangeutil: clamp'

# What the image must and must not be.
if command -v python >/dev/null; then
  echo "python is on PATH outside the env ($(command -v python)): the image would not prove activation" >&2
  exit 1
fi
got=$(bash -c 'source /opt/miniconda3/bin/activate && conda activate testbed && command -v python && python -m pytest -q -p no:cacheprovider tests/test_x.py >&2 && echo ok')
[ "$got" = "$(printf '/opt/miniconda3/envs/testbed/bin/python\nok')" ] || { echo "activated run gave: $got" >&2; exit 1; }
if bash -c 'source /opt/miniconda3/bin/activate && conda activate nosuchenv' 2>/dev/null; then
  echo "conda activate of an unknown env succeeded" >&2
  exit 1
fi
git status --porcelain | grep . && { echo "the tests left the repository dirty" >&2; exit 1; }
echo "base commit $(git rev-parse HEAD)" >&2
SETUP

docker commit \
  --change 'CMD ["bash"]' \
  --change 'WORKDIR /testbed' \
  --change "LABEL swerl.official-test.hash=$hash" \
  "$cid" "$hash_tag" >/dev/null || die "docker commit"
docker tag "$hash_tag" "$image" || die "docker tag"

# Earlier builds are no longer wanted.
for old in $(docker image ls "$repo" --format '{{.Tag}}' | grep '^h-' | grep -vx "h-$hash" || true); do
  docker image rm "$repo:$old" >/dev/null 2>&1 || true
done

say "built $image ($hash_tag) in $((SECONDS - start))s"
