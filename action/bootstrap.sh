#!/bin/sh
# Puts the nginx-modbuild binary on the runner for action.yml and exports
# its path as NGINX_MODBUILD_BIN (GITHUB_ENV). POSIX sh only: it runs in any
# job container (Debian, Ubuntu, Rocky/Alma, Amazon Linux, Alpine).
#
# With a release tag as the action's ref (uses: nginx-modbuild/nginx-modbuild@v1
# or @v1.2.0), the binary is the one whose SHA-256 the action's own files
# at that ref list (action/binaries.sha256, committed before the tag by
# scripts/binaries): it is downloaded from the release that file names and
# must match it, and a cached copy is kept under its SHA-256 and hashed
# again before each use. A release asset replaced behind the tag, with or
# without its SHA256SUMS, is refused. With a branch or commit ref, a local
# action (uses: ./), or a ref without that file, it is built from the
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

fetch() { # url file; exit status 22 means an HTTP error (404: no such asset)
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1" || { [ $? = 8 ] && return 22; return 1; }
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

sums=$src/action/binaries.sha256
case $ref in
  v[0-9]*)
    version= want=
    if [ -f "$sums" ]; then
      version=$(awk '$1 == "version" {print $2}' "$sums")
      want=$(awk -v a="$asset" '$2 == a {print $1}' "$sums")
    fi
    if [ -z "$version" ] || [ -z "$want" ]; then
      echo "nginx-modbuild: the action at $ref lists no checksum for $asset (action/binaries.sha256); building from source"
    else
      dir=$cache/sha256-$want
      if [ -x "$dir/nginx-modbuild" ] && [ "$(sha256 "$dir/nginx-modbuild")" = "$want" ]; then
        bin=$dir/nginx-modbuild
        echo "nginx-modbuild $version: cached $asset matches the action's checksum $want"
      elif ensure_downloader; then
        mkdir -p "$dir"
        url=${GITHUB_SERVER_URL:-https://github.com}/$repo/releases/download/$version/$asset
        status=0
        # A name of its own: job containers sharing the tool cache (act's,
        # a self-hosted runner's) all run this as the same PID.
        part=$(mktemp "$dir/$asset.XXXXXX")
        fetch "$url" "$part" || status=$?
        if [ $status = 0 ]; then
          got=$(sha256 "$part")
          if [ "$got" != "$want" ]; then
            rm -f "$part"
            echo "nginx-modbuild: $url has SHA-256 $got, but the action at $ref says $want: refusing it (the release asset was replaced or corrupted)" >&2
            exit 1
          fi
          chmod +x "$part"
          mv -f "$part" "$dir/nginx-modbuild"
          bin=$dir/nginx-modbuild
          echo "nginx-modbuild $version: downloaded $asset (sha256 $got, as the action at $ref lists)"
        elif [ $status = 22 ]; then
          rm -f "$part"
          echo "nginx-modbuild: release $version of $repo has no $asset ($url answered an HTTP error); building from source"
        else
          rm -f "$part"
          echo "nginx-modbuild: downloading $url failed (exit status $status: network or proxy?); building from source"
        fi
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
  # Parallel jobs may share the cache directory (and, in containers, the
  # PID): each builds into a name of its own and renames it.
  part=$(mktemp "$dir/nginx-modbuild.XXXXXX")
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=${ref:-local}" -o "$part" ./cmd/nginx-modbuild)
  chmod 755 "$part"
  mv -f "$part" "$dir/nginx-modbuild"
  bin=$dir/nginx-modbuild
fi

"$bin" --version
if [ -n "${GITHUB_ENV:-}" ]; then
  echo "NGINX_MODBUILD_BIN=$bin" >> "$GITHUB_ENV"
fi
