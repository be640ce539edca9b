# Sourced by scripts/run and scripts/test: create .venv and install Orderloom with the given extras.
# Re-installs only when pyproject.toml or the extras change.
set -euo pipefail
ORDERLOOM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ORDERLOOM_VENV:-$ORDERLOOM_ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

ensure_venv() {
  local extras="$1"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "Creating $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.orderloom-installed"
  local want
  want="$(cat "$ORDERLOOM_ROOT/pyproject.toml" | sha256sum | cut -c1-16)-$extras"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installing Orderloom[$extras] into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ORDERLOOM_ROOT[$extras]"
    echo "$want" > "$stamp"
  fi
}
