#!/bin/sh
# Puts the nginx-modbuild binary on the runner for action.yml and exports
# its path as NGINX_MODBUILD_BIN (GITHUB_ENV). POSIX sh only: it runs in any
# job container (Debian, Ubuntu, Rocky/Alma, Amazon Linux, Alpine).
#
# With a release tag as the action's ref (uses: nginx-modbuild/nginx-modbuild@v1.2.0),
# the static binary attached to that release is downloaded and checked
# against the release's SHA256SUMS. With a branch or commit ref, a local
# action (uses: ./), or when the release has no binary, it is built from the
# action's own source with Go.
set -eu

ref=${NMB_REF:-}
repo=${NMB_REPOSITORY:-nginx-modbuild/nginx-modbuild}
src=${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}
case $(uname -m) in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "nginx-modbuild: no binary for $(uname -m); build it with Go" >&2; arch=$(uname -m) ;;
esac
cache=${RUNNER_TOOL_CACHE:-${HOME:-/tmp}/.cache}/nginx-modbuild
asset=nginx-modbuild_linux_$arch
bin=

fetch() { # url file
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    return 1
  fi
}

ensure_downloader() {
  command -v curl >/dev/null 2>&1 && return 0
  command -v wget >/dev/null 2>&1 && return 0
  echo "nginx-modbuild: neither curl nor wget; installing curl"
  sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  if command -v apt-get >/dev/null 2>&1; then
    $sudo apt-get update -qq && $sudo apt-get install -y -qq curl ca-certificates
  elif command -v apk >/dev/null 2>&1; then
    $sudo apk add --no-cache curl ca-certificates
  elif command -v dnf >/dev/null 2>&1; then
    $sudo dnf install -y curl
  elif command -v yum >/dev/null 2>&1; then
    $sudo yum install -y curl
  else
    echo "nginx-modbuild: cannot install curl: no apt-get, apk, dnf or yum" >&2
    return 1
  fi
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    openssl dgst -sha256 "$1" | sed 's/.*= *//'
  fi
}

case $ref in
  v[0-9]*)
    dir=$cache/$ref/$arch
    if [ -x "$dir/nginx-modbuild" ]; then
      bin=$dir/nginx-modbuild
    elif ensure_downloader; then
      mkdir -p "$dir"
      base=${GITHUB_SERVER_URL:-https://github.com}/$repo/releases/download/$ref
      if fetch "$base/$asset" "$dir/$asset.tmp" && fetch "$base/SHA256SUMS" "$dir/SHA256SUMS"; then
        want=$(awk -v a="$asset" '$2 == a || $2 == "*" a {print $1}' "$dir/SHA256SUMS")
        got=$(sha256 "$dir/$asset.tmp")
        if [ -z "$want" ] || [ "$want" != "$got" ]; then
          echo "nginx-modbuild: $asset of release $ref has SHA-256 $got, SHA256SUMS says '${want:-nothing}': refusing it" >&2
          rm -f "$dir/$asset.tmp"
          exit 1
        fi
        chmod +x "$dir/$asset.tmp"
        mv "$dir/$asset.tmp" "$dir/nginx-modbuild"
        bin=$dir/nginx-modbuild
        echo "nginx-modbuild $ref: downloaded $asset (sha256 $got)"
      else
        rm -f "$dir/$asset.tmp"
        echo "nginx-modbuild: release $ref of $repo has no $asset; building from source"
      fi
    fi
    ;;
esac

if [ -z "$bin" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "nginx-modbuild: no prebuilt binary for ref '${ref:-local}' and no Go toolchain to build one: use a release tag (uses: $repo@v1) or set up Go first (actions/setup-go)" >&2
    exit 1
  fi
  dir=$cache/src-${ref:-local}/$arch
  mkdir -p "$dir"
  echo "nginx-modbuild: building from $src with $(go version)"
  # Parallel jobs on one machine may build at once: each renames its own.
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=${ref:-local}" -o "$dir/nginx-modbuild.$$" ./cmd/nginx-modbuild)
  mv -f "$dir/nginx-modbuild.$$" "$dir/nginx-modbuild"
  bin=$dir/nginx-modbuild
fi

"$bin" --version
if [ -n "${GITHUB_ENV:-}" ]; then
  echo "NGINX_MODBUILD_BIN=$bin" >> "$GITHUB_ENV"
fi
