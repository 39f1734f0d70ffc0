#!/usr/bin/env bash
# Makes etcd and kube-apiserver available for the end-to-end harness and the demo, from nothing.
#   etcd:           Debian's etcd-server package (3.4.23; Kubernetes supports etcd >= 3.4.22).
#   kube-apiserver: built with Go from the Go module proxy at a pinned version and cached outside the
#                   repo, keyed by version, so that only the first run pays for the build.
#   kube-controller-manager: the same way, from the same module, only with
#                   TETHER_WITH_CONTROLLER_MANAGER=1 (scenarios that need real Deployment/ReplicaSet/
#                   StatefulSet/DaemonSet controllers); it reuses most of kube-apiserver's build cache.
# Prints the binary paths as shell assignments on stdout (ETCD_BIN=..., KUBE_APISERVER_BIN=...,
# KUBE_CONTROLLER_MANAGER_BIN=...); progress goes to stderr. Every failing step says which step failed and why.
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
  local what="$1" start=$SECONDS
  while sleep 30 >/dev/null 2>&1; do say "step $what: still compiling ($((SECONDS - start))s)"; done
}

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

# Builds k8s.io/kubernetes/cmd/<name> into the cache. One scratch module serves every binary, so a
# second binary reuses the first one's modules and most of Go's build cache.
ensure_kube_binary() {
  local name="$1" bin="$BIN_DIR/$1"
  if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
    return
  fi
  local work="$CACHE_DIR/kube/build-$KUBE_VERSION"
  mkdir -p "$work" "$BIN_DIR"
  local minor="${KUBE_VERSION#v1.}"
  local staging_version="v0.${minor}"
  local mod_url="$PROXY/k8s.io/kubernetes/@v/$KUBE_VERSION.mod"
  say "step $name: reading the staging module list from k8s.io/kubernetes $KUBE_VERSION go.mod"
  curl -fsSL "$mod_url" -o "$work/kubernetes.mod" || fail "$name" "could not download $mod_url"
  ensure_go "$(awk '/^go /{print $2; exit}' "$work/kubernetes.mod")"
  say "step $name: building $KUBE_VERSION with $("$GO" env GOVERSION) (first run only: several minutes)"
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
  {
    printf 'package main\n\nimport (\n'
    printf '\t_ "k8s.io/kubernetes/cmd/kube-apiserver"\n'
    printf '\t_ "k8s.io/kubernetes/cmd/kube-controller-manager"\n'
    printf ')\n'
  } > "$work/tools.go"
  local started=$SECONDS
  (
    cd "$work"
    export GOFLAGS="-mod=mod" CGO_ENABLED=0 GOTOOLCHAIN=local
    say "step $name: resolving modules (go mod tidy)"
    "$GO" mod tidy >&2 || fail "$name" "go mod tidy failed (module proxy reachable? version $KUBE_VERSION exists?)"
    say "step $name: compiling (go build k8s.io/kubernetes/cmd/$name; silent for minutes)"
    heartbeat "$name" &
    local beat=$!
    trap 'kill "$beat" 2>/dev/null' EXIT
    "$GO" build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}" \
      -o "$bin.tmp" "k8s.io/kubernetes/cmd/$name" >&2 \
      || fail "$name" "go build failed"
  )
  mv "$bin.tmp" "$bin"
  say "step $name: built $bin in $((SECONDS - started)) s"
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
ensure_kube_binary kube-apiserver
KUBE_APISERVER_BIN="$BIN_DIR/kube-apiserver"
printf 'ETCD_BIN=%s\nKUBE_APISERVER_BIN=%s\n' "$ETCD_BIN" "$KUBE_APISERVER_BIN"
# kube-controller-manager only for the callers that run workloads' controllers (rollout scenarios).
if [ "${TETHER_WITH_CONTROLLER_MANAGER:-}" = 1 ]; then
  ensure_kube_binary kube-controller-manager
  printf 'KUBE_CONTROLLER_MANAGER_BIN=%s\n' "$BIN_DIR/kube-controller-manager"
fi
