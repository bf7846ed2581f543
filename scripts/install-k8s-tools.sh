#!/usr/bin/env bash
# Installs (once) the Python tools the manifest checks need, pinned by
# scripts/k8s-tools.txt, into a virtual environment under ~/.cache/yeyak, and
# prints the path of its python. Reinstalls when the pins change.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pins="$here/k8s-tools.txt"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/yeyak/k8s-tools"
stamp="$venv/pins.sha256"
want="$(sha256sum "$pins" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$pins" >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
