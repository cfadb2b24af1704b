#!/usr/bin/env bash
# One entry point that sets up everything it needs, then runs:
#   bash run.sh demo [--quick] [--out DIR]   the end-to-end demo on built-in data
#   bash run.sh test [pytest args]           the test suite (default: everything not marked slow)
#   bash run.sh setup                        only install (system packages as root, .venv, built-in data)
#   bash run.sh carekit ARGS...              any carekit command inside the environment
set -euo pipefail
cd "$(dirname "$0")"
ROOT="$(pwd)"
VENV="${CAREKIT_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

log() { printf '\n[run.sh] %s\n' "$*" >&2; }

install_system_packages() {
  local missing=()
  command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
  [ -e /usr/share/java/ij.jar ] || missing+=(imagej)
  [ -e /usr/share/java/jython.jar ] || missing+=(jython)
  command -v xvfb-run >/dev/null 2>&1 || missing+=(xvfb)
  "$PYTHON" -c "import ensurepip, venv" >/dev/null 2>&1 || missing+=(python3-venv)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "missing system packages: ${missing[*]} -- install them with: sudo apt-get install ${missing[*]}"
    log "(Python-only features work without them; ImageJ features and their tests will not)"
  fi
}

install_python_env() {
  local stamp="$VENV/.carekit-installed"
  local want
  want="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  log "creating the Python environment in $VENV (pinned versions from constraints.txt; ~2 GB, a few minutes)"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade "pip>=24"
  "$VENV/bin/python" -m pip install --quiet -c constraints.txt -e ".[test]"
  echo "$want" > "$stamp"
}

install_data() {
  "$VENV/bin/carekit" data install >/dev/null
}

setup() {
  install_system_packages
  install_python_env
  install_data
}

command="${1:-}"
[ $# -gt 0 ] && shift
case "$command" in
  setup) setup; "$VENV/bin/carekit" doctor || true ;;
  demo) setup; exec "$VENV/bin/carekit" demo "$@" ;;
  test) setup; exec "$VENV/bin/python" -m pytest "$@" ;;
  carekit) setup; exec "$VENV/bin/carekit" "$@" ;;
  *) echo "usage: bash run.sh demo|test|setup|carekit [args...]" >&2; exit 2 ;;
esac
