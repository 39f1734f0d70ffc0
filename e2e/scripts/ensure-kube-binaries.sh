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
LOG_TAG=kube-binaries
# shellcheck source=ensure-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/ensure-common.sh"
BIN_DIR="$CACHE_DIR/kube/$KUBE_VERSION"

PROXY="${GOPROXY_BASE:-https://proxy.golang.org}"

ensure_etcd() {
  if command -v etcd >/dev/null 2>&1; then
    ETCD_BIN=$(command -v etcd)
    return
  fi
  apt_install etcd etcd-server
  stop_package_service etcd
  ETCD_BIN=$(command -v etcd) || fail etcd "etcd is not on PATH after installing etcd-server"
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

lock_or_wait "$CACHE_DIR/kube/.lock" ensure-kube-binaries.sh
ensure_etcd
ensure_kube_binary kube-apiserver
KUBE_APISERVER_BIN="$BIN_DIR/kube-apiserver"
printf 'ETCD_BIN=%s\nKUBE_APISERVER_BIN=%s\n' "$ETCD_BIN" "$KUBE_APISERVER_BIN"
# kube-controller-manager only for the callers that run workloads' controllers (rollout scenarios).
if [ "${TETHER_WITH_CONTROLLER_MANAGER:-}" = 1 ]; then
  ensure_kube_binary kube-controller-manager
  printf 'KUBE_CONTROLLER_MANAGER_BIN=%s\n' "$BIN_DIR/kube-controller-manager"
fi
