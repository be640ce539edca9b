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
  local project have missing=""
  project="$(sha256sum < "$ORDERLOOM_ROOT/pyproject.toml" | cut -c1-16)"
  # The stamp holds the pyproject hash and the extras installed with it; a request for a subset is satisfied.
  have="$(cat "$stamp" 2>/dev/null || true)"
  if [ "${have%% *}" = "$project" ]; then
    for extra in ${extras//,/ }; do
      case " ${have#* } " in *" $extra "*) ;; *) missing="$missing $extra" ;; esac
    done
  else
    missing="$extras"
  fi
  if [ -n "$missing" ]; then
    local all="$extras"
    [ "${have%% *}" = "$project" ] && all="$(echo "${have#* } ${extras//,/ }" | tr ' ' '\n' | sort -u | paste -sd, -)"
    echo "Installing Orderloom[$all] into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ORDERLOOM_ROOT[$all]"
    echo "$project ${all//,/ }" > "$stamp"
  fi
}
