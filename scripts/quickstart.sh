#!/usr/bin/env bash
# Set up a virtualenv from pyproject.toml, compile a shipped profile, and run commands inside
# the sandbox: one allowed read and two reads the kernel denies.
# Usage: bash scripts/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
venv="${NONO_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e .
nonoc="$repo/$venv/bin/nonoc"
nono="$repo/$venv/bin/nono"

# A throw-away home and project, so the demo touches none of your files.
demo=$(mktemp -d "${TMPDIR:-/tmp}/nono-demo.XXXXXX")
trap 'rm -rf "$demo"' EXIT
export HOME="$demo/home" XDG_CONFIG_HOME="$demo/home/.config" XDG_CACHE_HOME="$demo/home/.cache"
mkdir -p "$HOME/.ssh" "$demo/project/private"
echo "ssh-ed25519 PRIVATE KEY (fake)" > "$HOME/.ssh/id_ed25519"
echo "hello from the project" > "$demo/project/README.md"
echo "not for the agent" > "$demo/project/private/notes.txt"
cd "$demo/project"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
step nonoc compile examples/quickstart.nono --target linux -o quickstart.bundle
"$nonoc" compile "$repo/examples/quickstart.nono" --target linux -o "$demo/quickstart.bundle"

step nono exec quickstart.bundle -- cat README.md
"$nono" exec "$demo/quickstart.bundle" -- cat README.md

step nono exec quickstart.bundle -- cat private/notes.txt
"$nono" exec "$demo/quickstart.bundle" -- cat private/notes.txt || echo "(exit $?: denied by Landlock, deny wins inside the readable tree)"

step nono exec quickstart.bundle -- cat ~/.ssh/id_ed25519
"$nono" exec "$demo/quickstart.bundle" -- cat "$HOME/.ssh/id_ed25519" || echo "(exit $?: denied: never granted)"
