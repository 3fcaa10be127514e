#!/usr/bin/env bash
# Builds, from packages only, a stand-in for the AWS Lambda Python 3.12 base image and tags it
# public.ecr.aws/lambda/python:3.12-x86_64, so that `sam local invoke|start-api
# --skip-pull-image` runs where the real image cannot be pulled (no internet access to its
# registry). With internet access, don't use this: let SAM pull the real image.
#
# What it is: a Debian minbase root file system (debootstrap from the machine's Debian
# mirror), a CPython 3.12 interpreter tree copied in at /var/lang (the Lambda image's layout),
# awslambdaric + boto3 from PyPI in /var/runtime (scripts/standin-image/requirements.txt), and
# the runtime interface emulator that the aws-sam-cli wheel ships (samcli/local/rapid). It is
# Debian, not Amazon Linux: a native library the real image lacks (or has in another version)
# can hide a difference, which is why README says to prefer the real image.
#
# Cached: the image carries a label with the hash of its inputs (this script, the requirements,
# the interpreter's version and build, the emulator binary); an image with the same label is
# kept as it is. The debootstrap tarball is cached under .aws-sam/standin/.
#
# Usage: scripts/sam-standin-image.sh [--force]      (needs root, docker, debootstrap)
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=public.ecr.aws/lambda/python:3.12-x86_64
CACHE=.aws-sam/standin
REQS=scripts/standin-image/requirements.txt
SUITE=bookworm
LABEL=org.casino-wallet.standin-inputs
force=${1:-}

py312=""
for c in python3.12 "$(pyenv root 2>/dev/null)/versions/3.12"*/bin/python3.12; do
  if "$c" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then py312=$(command -v "$c" || echo "$c"); break; fi
done
[ -n "$py312" ] || { echo "the stand-in image needs a CPython 3.12 build (pyenv install 3.12)" >&2; exit 1; }
prefix=$("$py312" -c 'import sys; print(sys.base_prefix)')
rie=$(ls .venv-tools/lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-x86_64 2>/dev/null | head -n1)
[ -n "$rie" ] || { echo "the SAM CLI's runtime interface emulator is missing: make tools" >&2; exit 1; }

key=$({ cat "$0" "$REQS"; "$py312" -c 'import sys, sysconfig; print(sys.version, sysconfig.get_config_var("CONFIG_ARGS"))'; sha256sum "$rie"; } | sha256sum | cut -c1-16)
have=$(docker image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$TAG" 2>/dev/null || true)
if [ "$have" = "$key" ] && [ "$force" != "--force" ]; then
  echo "stand-in image $TAG is up to date (inputs $key)"
  exit 0
fi
echo "building the stand-in image $TAG (inputs $key) from $("$py312" -V), $SUITE minbase, $(basename "$rie")"
mkdir -p "$CACHE"
work=$(mktemp -d "$PWD/$CACHE/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"

# 1. Debian minbase plus the shared libraries the interpreter's extension modules link to.
base="$CACHE/$SUITE-minbase.tar"
if [ ! -s "$base" ]; then
  command -v debootstrap >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; }
  # The machine's own Debian mirror (whatever apt uses here), else debootstrap's default.
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 ~ /^[a-z]+$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  debootstrap --variant=minbase \
    --include=ca-certificates,libssl3,libffi8,libsqlite3-0,libexpat1,libreadline8,libncursesw6,libuuid1,libbz2-1.0,liblzma5,zlib1g,libgdbm6 \
    "$SUITE" "$root" ${mirror:+"$mirror"} >"$work/debootstrap.log" 2>&1 || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -cf "$base.tmp" . && mv "$base.tmp" "$base"
  rm -rf "$root"
fi
mkdir -p "$root" && tar -C "$root" -xf "$base"

# 2. The interpreter at /var/lang (tests, caches and its own site-packages left out).
mkdir -p "$root/var/lang" "$root/var/runtime" "$root/var/task" "$root/opt" "$root/usr/local/bin"
tar -C "$prefix" --exclude='lib/python3.12/test' --exclude='lib/python3.12/idlelib' \
  --exclude='lib/python3.12/tkinter' --exclude='lib/python3.12/site-packages/*' \
  --exclude='__pycache__' --exclude='*.a' -cf - bin lib include | tar -C "$root/var/lang" -xf -

# 3. The runtime interface client and the SDK, as the Lambda image has them in /var/runtime.
"$py312" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-compile --only-binary=:all: \
  --platform manylinux2014_x86_64 --python-version 3.12 --implementation cp \
  --target "$root/var/runtime" -r "$REQS"

# 4. The emulator and the entry points (the real image's /lambda-entrypoint.sh contract).
install -m 0755 "$rie" "$root/usr/local/bin/aws-lambda-rie"
cat >"$root/var/runtime/bootstrap" <<'SH'
#!/bin/sh
# Lambda's Python bootstrap: the runtime interface client runs the handler named by _HANDLER.
export PYTHONPATH="/var/runtime:${LAMBDA_TASK_ROOT:-/var/task}:/opt/python/lib/python3.12/site-packages:/opt/python${PYTHONPATH:+:$PYTHONPATH}"
exec /var/lang/bin/python3.12 -m awslambdaric "$_HANDLER"
SH
cat >"$root/lambda-entrypoint.sh" <<'SH'
#!/bin/sh
# Outside Lambda (no AWS_LAMBDA_RUNTIME_API) run under the emulator, as the real image does.
export _HANDLER="$1"
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
  exec /usr/local/bin/aws-lambda-rie /var/runtime/bootstrap "$@"
fi
exec /var/runtime/bootstrap "$@"
SH
chmod 0755 "$root/var/runtime/bootstrap" "$root/lambda-entrypoint.sh"

# 5. Import as an image (no base image to pull, no Dockerfile build).
tar -C "$root" -cf - . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV TZ=:/etc/localtime' \
  --change 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin' \
  --change 'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
  --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
  --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
  --change 'WORKDIR /var/task' \
  --change "LABEL $LABEL=$key" \
  --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]' \
  - "$TAG" >/dev/null
# The interpreter must start in the image (a missing shared library shows here, not in SAM).
docker run --rm -e PYTHONPATH=/var/runtime --entrypoint /var/lang/bin/python3.12 "$TAG" -c 'import ssl, sqlite3, ctypes, awslambdaric, boto3; print("stand-in image ok:", __import__("sys").version.split()[0])'
