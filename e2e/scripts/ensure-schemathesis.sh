#!/usr/bin/env bash
# Makes the schemathesis fuzzer available for e2e/fuzz/short-run.test.ts and `./dev fuzz`: a Python venv
# under the cache (outside the repo), keyed by the version, filled from PyPI with pip, so only the
# first run downloads. Prints ST_BIN=... on stdout; progress goes to stderr. Every failing step says
# which step failed and why.
set -euo pipefail

VERSION="${TETHER_SCHEMATHESIS_VERSION:-4.32.5}"
CACHE_DIR="${TETHER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tether}"
VENV="$CACHE_DIR/schemathesis/$VERSION"

say() { printf '[schemathesis] %s\n' "$*" >&2; }
fail() { printf '[schemathesis] FAILED at step "%s": %s\n' "$1" "$2" >&2; exit 1; }

st_ok() { [ -x "$VENV/bin/st" ] && "$VENV/bin/st" --version >/dev/null 2>&1; }

if ! st_ok; then
  PYTHON="$(command -v python3 || true)"
  [ -n "$PYTHON" ] || fail python "python3 is needed (Debian: python3 python3-venv)"
  rm -rf "$VENV.tmp"
  say "step venv: $PYTHON -m venv $VENV"
  "$PYTHON" -m venv "$VENV.tmp" >&2 || fail venv "python3 -m venv failed (Debian: apt-get install python3-venv)"
  say "step install: pip install schemathesis==$VERSION (first run only)"
  "$VENV.tmp/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2 ||
    fail install "pip install schemathesis==$VERSION failed"
  rm -rf "$VENV" && mv "$VENV.tmp" "$VENV"
  # The venv's scripts name their interpreter by path: moved, they need it rewritten.
  sed -i "1s|^#!.*$VENV.tmp/bin/python.*|#!$VENV/bin/python|" "$VENV"/bin/* 2>/dev/null || true
  st_ok || fail check "$VENV/bin/st does not run"
fi
printf 'ST_BIN=%s\n' "$VENV/bin/st"
