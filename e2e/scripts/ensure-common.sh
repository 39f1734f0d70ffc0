# What the ensure-*.sh scripts that install or build something share; sourced, not run. The caller
# sets LOG_TAG (the prefix of its progress lines) first. Progress and errors go to stderr: stdout is
# the caller's answer (shell assignments of the paths it made sure of).

CACHE_DIR="${TETHER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tether}"

say() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }
fail() { printf '[%s] FAILED at step "%s": %s\n' "$LOG_TAG" "$1" "$2" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local step="$1"; shift
  say "step $step: installing Debian package(s) $*"
  # 9>&-: a service the package starts must not inherit (and so hold) the caller's lock.
  as_root apt-get update -qq >&2 9>&- || fail "$step" "apt-get update failed (is the Debian mirror reachable?)"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >&2 9>&- \
    || fail "$step" "apt-get install $* failed"
}

# A Debian package may start its service on the default port; the callers run their own on free
# ports. Stopped through the init system only: other processes of that name on this machine are not ours.
stop_package_service() {
  if [ -d /run/systemd/system ]; then
    as_root systemctl disable --now "$1" >/dev/null 2>&1 || true
  elif command -v service >/dev/null 2>&1; then
    as_root service "$1" stop >/dev/null 2>&1 || true
  fi
}

# The compiler prints nothing for minutes: say that it is still working.
heartbeat() {
  local what="$1" start=$SECONDS
  while sleep 30 >/dev/null 2>&1; do say "step $what: still building ($((SECONDS - start))s)"; done
}

# Parallel callers (tap runs test files in parallel) wait for one another on fd 9: the first installs
# or builds, the others then find everything in place.
lock_or_wait() {
  mkdir -p "$(dirname "$1")"
  exec 9>"$1"
  if ! flock -n 9; then
    say "waiting for another $2 to finish"
    flock 9
  fi
}
