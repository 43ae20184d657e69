# Shared by scripts/start.sh and scripts/test.sh: system packages and the Python environment.
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${EVENTAPP_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

# Install the Debian packages named, if any is missing (needs root; otherwise says what to do).
ensure_system_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    say "Missing system packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})"
    return 0
  fi
  say "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Create the virtualenv and install eventapp (with the given extras) when pyproject.toml changed.
ensure_python_env() {
  local extras="$1"
  local stamp="$VENV/.eventapp-installed"
  local want
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)-$extras"
  if [ ! -x "$PY" ]; then
    say "Creating the virtualenv in $VENV"
    python3 -m venv "$VENV"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "Installing eventapp and its dependencies${extras:+ [$extras]}"
    local log="$VENV/install.log"
    # pip's own chatter goes to a log, shown only when installing fails.
    if ! { "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip \
           && "$PY" -m pip install --quiet --disable-pip-version-check \
                -e "$ROOT${extras:+[$extras]}"; } > "$log" 2>&1; then
      cat "$log" >&2
      say "Installing failed (the log above is also in $log)"
      return 1
    fi
    echo "$want" > "$stamp"
  fi
}

# The .mo files are built from the committed .po catalogues, never committed themselves.
compile_translations() {
  "$VENV/bin/pybabel" -q compile -d "$ROOT/eventapp/translations"
}
