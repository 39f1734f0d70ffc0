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

say() { printf '[kube-binaries] %s\n' "$*" >&2; }
fail() { printf '[kube-binaries] FAILED at step "%s": %s\n' "$1" "$2" >&2; exit 1; }

ensure_etcd() {
  if command -v etcd >/dev/null 2>&1; then
    ETCD_BIN=$(command -v etcd)
    return
  fi
  say "step etcd: installing Debian package etcd-server"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2 || fail etcd "apt-get update failed (is the Debian mirror reachable?)"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq etcd-server >&2 \
    || fail etcd "apt-get install etcd-server failed"
  # The package starts a system etcd on 2379; the harness runs its own on free ports, so stop it.
  if command -v systemctl >/dev/null 2>&1; then $sudo systemctl disable --now etcd >/dev/null 2>&1 || true; fi
  pkill -x etcd >/dev/null 2>&1 || true
  ETCD_BIN=$(command -v etcd) || fail etcd "etcd is not on PATH after installing etcd-server"
}

ensure_kube_apiserver() {
  KUBE_APISERVER_BIN="$BIN_DIR/kube-apiserver"
  if [ -x "$KUBE_APISERVER_BIN" ] && "$KUBE_APISERVER_BIN" --version >/dev/null 2>&1; then
    return
  fi
  command -v go >/dev/null 2>&1 || fail kube-apiserver "Go is not installed; it is needed to build kube-apiserver"
  local work="$CACHE_DIR/kube/build-$KUBE_VERSION"
  mkdir -p "$work" "$BIN_DIR"
  say "step kube-apiserver: building $KUBE_VERSION with $(go version | cut -d' ' -f3) (first run only: several minutes)"
  local minor="${KUBE_VERSION#v1.}"
  local staging_version="v0.${minor}"
  local mod_url="${GOPROXY_BASE:-https://proxy.golang.org}/k8s.io/kubernetes/@v/$KUBE_VERSION.mod"
  say "step kube-apiserver: reading the staging module list from k8s.io/kubernetes $KUBE_VERSION go.mod"
  curl -fsSL "$mod_url" -o "$work/kubernetes.mod" || fail kube-apiserver "could not download $mod_url"
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
    export GOFLAGS="-mod=mod" CGO_ENABLED=0
    say "step kube-apiserver: resolving modules (go mod tidy)"
    go mod tidy >&2 || fail kube-apiserver "go mod tidy failed (module proxy reachable? version $KUBE_VERSION exists?)"
    say "step kube-apiserver: compiling (go build k8s.io/kubernetes/cmd/kube-apiserver)"
    go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}" \
      -o "$KUBE_APISERVER_BIN.tmp" k8s.io/kubernetes/cmd/kube-apiserver >&2 \
      || fail kube-apiserver "go build failed"
  )
  mv "$KUBE_APISERVER_BIN.tmp" "$KUBE_APISERVER_BIN"
  say "step kube-apiserver: built $KUBE_APISERVER_BIN"
}

ensure_etcd
ensure_kube_apiserver
printf 'ETCD_BIN=%s\nKUBE_APISERVER_BIN=%s\n' "$ETCD_BIN" "$KUBE_APISERVER_BIN"
