#!/usr/bin/env bash
# Makes etcd and kube-apiserver available for the end-to-end harness and the demo, from nothing.
#   etcd:           Debian's etcd-server package (3.4.23; Kubernetes supports etcd >= 3.4.22).
#   kube-apiserver: built with Go from the Go module proxy at a pinned version and cached outside the
#                   repo, keyed by version, so that only the first run pays for the build.
# Prints the two binary paths as shell assignments on stdout (ETCD_BIN=..., KUBE_APISERVER_BIN=...);
# progress goes to stderr. Every failing step says which step failed and why.
set -euo pipefail

# v1.33 keeps the machine's kubectl (v1.32 client) inside Kubernetes' +/-1 minor version skew.
KUBE_VERSION="${TETHER_KUBE_VERSION:-v1.33.13}"
CACHE_DIR="${TETHER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tether}"
BIN_DIR="$CACHE_DIR/kube/$KUBE_VERSION"

PROXY="${GOPROXY_BASE:-https://proxy.golang.org}"

say() { printf '[kube-binaries] %s\n' "$*" >&2; }
fail() { printf '[kube-binaries] FAILED at step "%s": %s\n' "$1" "$2" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local step="$1"; shift
  say "step $step: installing Debian package(s) $*"
  # 9>&-: a service the package starts must not inherit (and so hold) this script's lock.
  as_root apt-get update -qq >&2 9>&- || fail "$step" "apt-get update failed (is the Debian mirror reachable?)"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >&2 9>&- \
    || fail "$step" "apt-get install $* failed"
}

ensure_etcd() {
  if command -v etcd >/dev/null 2>&1; then
    ETCD_BIN=$(command -v etcd)
    return
  fi
  apt_install etcd etcd-server
  # The package may start a system etcd on 2379; the harness runs its own on free ports, so stop the
  # service (through its init system only: other etcd processes on this machine are not ours).
  if [ -d /run/systemd/system ]; then
    as_root systemctl disable --now etcd >/dev/null 2>&1 || true
  elif command -v service >/dev/null 2>&1; then
    as_root service etcd stop >/dev/null 2>&1 || true
  fi
  ETCD_BIN=$(command -v etcd) || fail etcd "etcd is not on PATH after installing etcd-server"
}

# The compiler prints nothing for minutes: say that it is still working.
heartbeat() {
  local start=$SECONDS
  while sleep 30 >/dev/null 2>&1; do say "step kube-apiserver: still compiling ($((SECONDS - start))s)"; done
}

# Go from the machine when it is new enough for the go.mod, else the official toolchain module from
# the Go module proxy (what `GOTOOLCHAIN=auto` would fetch), cached by version.
ensure_go() {
  local want="$1"
  if command -v go >/dev/null 2>&1; then
    local have
    have=$(go env GOVERSION | sed 's/^go//')
    if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1)" = "$want" ]; then
      GO=$(command -v go)
      return
    fi
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) fail go "no Go toolchain for $(uname -m)" ;;
  esac
  local dir="$CACHE_DIR/go/go$want"
  GO="$dir/bin/go"
  [ -x "$GO" ] && return
  command -v unzip >/dev/null 2>&1 || apt_install go unzip
  local module="golang.org/toolchain@v0.0.1-go$want.linux-$arch"
  local url="$PROXY/golang.org/toolchain/@v/v0.0.1-go$want.linux-$arch.zip"
  say "step go: Go >= $want is needed; downloading $module from the Go module proxy"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  curl -fsSL "$url" -o "$dir.tmp/toolchain.zip" || fail go "could not download $url"
  unzip -q "$dir.tmp/toolchain.zip" -d "$dir.tmp" || fail go "could not unpack $url"
  rm -rf "$dir" && mv "$dir.tmp/$module" "$dir" && rm -rf "$dir.tmp"
  "$GO" version >/dev/null 2>&1 || fail go "the downloaded toolchain does not run"
}

ensure_kube_apiserver() {
  KUBE_APISERVER_BIN="$BIN_DIR/kube-apiserver"
  if [ -x "$KUBE_APISERVER_BIN" ] && "$KUBE_APISERVER_BIN" --version >/dev/null 2>&1; then
    return
  fi
  local work="$CACHE_DIR/kube/build-$KUBE_VERSION"
  mkdir -p "$work" "$BIN_DIR"
  local minor="${KUBE_VERSION#v1.}"
  local staging_version="v0.${minor}"
  local mod_url="$PROXY/k8s.io/kubernetes/@v/$KUBE_VERSION.mod"
  say "step kube-apiserver: reading the staging module list from k8s.io/kubernetes $KUBE_VERSION go.mod"
  curl -fsSL "$mod_url" -o "$work/kubernetes.mod" || fail kube-apiserver "could not download $mod_url"
  ensure_go "$(awk '/^go /{print $2; exit}' "$work/kubernetes.mod")"
  say "step kube-apiserver: building $KUBE_VERSION with $("$GO" env GOVERSION) (first run only: several minutes)"
  {
    echo "module tether.dev/kube-apiserver-build"
    echo
    echo "go $(awk '/^go /{print $2; exit}' "$work/kubernetes.mod")"
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    echo "replace ("
    grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$work/kubernetes.mod" \
      | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } > "$work/go.mod"
  printf 'package main\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' > "$work/tools.go"
  (
    cd "$work"
    export GOFLAGS="-mod=mod" CGO_ENABLED=0 GOTOOLCHAIN=local
    say "step kube-apiserver: resolving modules (go mod tidy)"
    "$GO" mod tidy >&2 || fail kube-apiserver "go mod tidy failed (module proxy reachable? version $KUBE_VERSION exists?)"
    say "step kube-apiserver: compiling (go build k8s.io/kubernetes/cmd/kube-apiserver; silent for minutes)"
    heartbeat &
    local beat=$!
    trap 'kill "$beat" 2>/dev/null' EXIT
    "$GO" build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}" \
      -o "$KUBE_APISERVER_BIN.tmp" k8s.io/kubernetes/cmd/kube-apiserver >&2 \
      || fail kube-apiserver "go build failed"
  )
  mv "$KUBE_APISERVER_BIN.tmp" "$KUBE_APISERVER_BIN"
  say "step kube-apiserver: built $KUBE_APISERVER_BIN"
}

# tap runs test files in parallel and each may call this script: one installs or builds, the others
# wait for it and then find everything in place.
mkdir -p "$CACHE_DIR/kube"
exec 9>"$CACHE_DIR/kube/.lock"
if ! flock -n 9; then
  say "waiting for another ensure-kube-binaries.sh to finish"
  flock 9
fi
ensure_etcd
ensure_kube_apiserver
printf 'ETCD_BIN=%s\nKUBE_APISERVER_BIN=%s\n' "$ETCD_BIN" "$KUBE_APISERVER_BIN"
