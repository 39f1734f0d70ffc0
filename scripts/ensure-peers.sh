#!/usr/bin/env bash
# Makes the peers of `pnpm bench peers` available, from the package registries only:
#   step-ca: built with the machine's Go from the Go module proxy (github.com/smallstep/certificates,
#            pinned), with CGO_ENABLED=0, which leaves out only its YubiKey KMS (the one part that
#            needs Debian's libpcsclite-dev); signing, the badger DB and the JWK provisioner are the same.
#   cfssl:   the same way (github.com/cloudflare/cfssl, pinned), with cgo, which its SQLite cert DB
#            (mattn/go-sqlite3) needs: gcc must be installed.
#   nginx:   Debian's nginx-light; the service the package starts is stopped again (the bench runs its
#            own nginx on a free port).
# Binaries are cached outside the repo, keyed by version (~/.cache/tether/peers/<name>-<version>/), so
# only the first run pays for the build (step-ca: several minutes on 2 cores).
#   scripts/ensure-peers.sh [step-ca] [cfssl] [nginx]    (all three when none is named)
# Prints the paths as shell assignments on stdout (STEP_CA_BIN=..., CFSSL_BIN=..., NGINX_BIN=...);
# progress goes to stderr. Every failing step says which step failed and why.
set -euo pipefail

STEP_CA_VERSION="${TETHER_STEP_CA_VERSION:-v0.30.2}"
# cfssl v1.7.x needs Go >= 1.27.
CFSSL_VERSION="${TETHER_CFSSL_VERSION:-v1.6.5}"
LOG_TAG=peers
# shellcheck source=../e2e/scripts/ensure-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/scripts/ensure-common.sh"
PEERS_DIR="$CACHE_DIR/peers"

# go_install NAME PACKAGE VERSION CGO: `go install PACKAGE@VERSION` into $PEERS_DIR/NAME-VERSION/.
go_install() {
  local name="$1" package="$2" version="$3" cgo="$4"
  local dir="$PEERS_DIR/$name-$version"
  if [ -x "$dir/$name" ]; then
    return
  fi
  command -v go >/dev/null 2>&1 || fail "$name" "Go is not installed (the peers are built from the Go module proxy)"
  if [ "$cgo" = 1 ] && ! command -v gcc >/dev/null 2>&1; then
    apt_install "$name" gcc libc6-dev
  fi
  say "step $name: building $package@$version with $(go env GOVERSION) (first run only; step-ca takes several minutes)"
  local started=$SECONDS
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  heartbeat "$name" 9>&- &
  local beat=$!
  if ! GOBIN="$dir.tmp" CGO_ENABLED="$cgo" GOTOOLCHAIN=local GOFLAGS= \
    go install "$package@$version" >&2; then
    kill "$beat" 2>/dev/null || true
    fail "$name" "go install $package@$version failed (module proxy reachable? Go new enough for its go.mod?)"
  fi
  kill "$beat" 2>/dev/null || true
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
  say "step $name: built $dir/$name in $((SECONDS - started)) s"
}

ensure_nginx() {
  NGINX_BIN=$(command -v nginx || true)
  [ -z "$NGINX_BIN" ] && [ -x /usr/sbin/nginx ] && NGINX_BIN=/usr/sbin/nginx
  [ -n "$NGINX_BIN" ] && return
  apt_install nginx nginx-light
  stop_package_service nginx
  NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
  [ -x "$NGINX_BIN" ] || fail nginx "no nginx binary after installing nginx-light"
}

lock_or_wait "$PEERS_DIR/.lock" ensure-peers.sh
[ $# -eq 0 ] && set -- step-ca cfssl nginx
for peer in "$@"; do
  case "$peer" in
    step-ca)
      go_install step-ca github.com/smallstep/certificates/cmd/step-ca "$STEP_CA_VERSION" 0
      printf 'STEP_CA_BIN=%s\n' "$PEERS_DIR/step-ca-$STEP_CA_VERSION/step-ca"
      ;;
    cfssl)
      go_install cfssl github.com/cloudflare/cfssl/cmd/cfssl "$CFSSL_VERSION" 1
      printf 'CFSSL_BIN=%s\n' "$PEERS_DIR/cfssl-$CFSSL_VERSION/cfssl"
      ;;
    nginx)
      ensure_nginx
      printf 'NGINX_BIN=%s\n' "$NGINX_BIN"
      ;;
    *) fail arguments "unknown peer \"$peer\" (step-ca, cfssl, nginx)" ;;
  esac
done
