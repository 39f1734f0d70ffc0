#!/usr/bin/env bash
# Provides Node 24 and pnpm from the npm registry when the machine's own are missing or too old.
# Sourced by ./dev; prints progress to stderr and prepends the toolchain to PATH.
# Cached outside the repo (~/.cache/tether/toolchain) so that only the first run downloads.
NODE_MAJOR=24
NODE_MIN="22.19.0"
PNPM_VERSION="10.34.9"
TOOLCHAIN_DIR="${TETHER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tether}/toolchain"

_tether_say() { printf '[toolchain] %s\n' "$*" >&2; }

_tether_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e "const [a,b]=process.versions.node.split('.').map(Number);const [x,y]='$NODE_MIN'.split('.').map(Number);process.exit(a>x||(a===x&&b>=y)?0:1)" 2>/dev/null
}

if [ -x "$TOOLCHAIN_DIR/node/node_modules/.bin/node" ]; then
  export PATH="$TOOLCHAIN_DIR/node/node_modules/.bin:$PATH"
fi
if ! _tether_node_ok; then
  command -v npm >/dev/null 2>&1 || { _tether_say "FAILED: npm is needed to fetch Node $NODE_MAJOR from the npm registry"; return 1 2>/dev/null || exit 1; }
  _tether_say "Node >= $NODE_MIN not found (have: $(node --version 2>/dev/null || echo none)); installing node@$NODE_MAJOR from the npm registry"
  mkdir -p "$TOOLCHAIN_DIR/node"
  npm install --prefix "$TOOLCHAIN_DIR/node" --no-save --loglevel=error "node@$NODE_MAJOR" >&2 \
    || { _tether_say "FAILED: npm install node@$NODE_MAJOR"; return 1 2>/dev/null || exit 1; }
  export PATH="$TOOLCHAIN_DIR/node/node_modules/.bin:$PATH"
  _tether_node_ok || { _tether_say "FAILED: node $(node --version) is still older than $NODE_MIN"; return 1 2>/dev/null || exit 1; }
fi
if [ ! -x "$TOOLCHAIN_DIR/pnpm/node_modules/.bin/pnpm" ]; then
  _tether_say "installing pnpm@$PNPM_VERSION from the npm registry"
  mkdir -p "$TOOLCHAIN_DIR/pnpm"
  npm install --prefix "$TOOLCHAIN_DIR/pnpm" --no-save --loglevel=error "pnpm@$PNPM_VERSION" >&2 \
    || { _tether_say "FAILED: npm install pnpm@$PNPM_VERSION"; return 1 2>/dev/null || exit 1; }
fi
export PATH="$TOOLCHAIN_DIR/pnpm/node_modules/.bin:$PATH"
