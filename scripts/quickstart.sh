#!/usr/bin/env bash
# Set up a virtualenv from pyproject.toml, compile the built-in `default` profile, and run
# commands inside the sandbox: one allowed read, then reads, writes and a connect the kernel denies.
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
# Not under /tmp: the default profile lets programs write temporary files there.
outside_scratch() { case "$(realpath "$1")/" in /tmp/*|/var/tmp/*|/dev/shm/*) return 1;; esac; }
base="$repo"
outside_scratch "$base" || base="$HOME"
outside_scratch "$base" || echo "note: no directory outside /tmp for the demo; its write will be allowed"
demo=$(mktemp -d "$base/.nono-demo.XXXXXX")
trap 'rm -rf "$demo"' EXIT
export HOME="$demo/home" XDG_CONFIG_HOME="$demo/home/.config" XDG_CACHE_HOME="$demo/home/.cache"
mkdir -p "$HOME/.ssh" "$demo/project/private"
echo "ssh-ed25519 PRIVATE KEY (fake)" > "$HOME/.ssh/id_ed25519"
echo "hello from the project" > "$demo/project/README.md"
echo "not for the agent" > "$demo/project/private/notes.txt"
cd "$demo/project"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
denied() { echo "(exit $1: $2)"; }

step nonoc compile default --target linux -o default.bundle
"$nonoc" compile default --target linux -o "$demo/default.bundle"

step nono exec default.bundle -- cat README.md
"$nono" exec "$demo/default.bundle" -- cat README.md

step nono exec default.bundle -- cat ~/.ssh/id_ed25519
"$nono" exec "$demo/default.bundle" -- cat "$HOME/.ssh/id_ed25519" || denied $? "denied by Landlock: credentials are never granted"

step "nono exec default.bundle -- sh -c 'echo changed > README.md'"
"$nono" exec "$demo/default.bundle" -- sh -c 'echo changed > README.md' || denied $? "denied: the default profile reads the working directory, it does not write it"

if [ -x /usr/bin/python3 ]; then
  step "nono run --allow . --net-block -- python3 -c 'socket.create_connection((\"127.0.0.1\", 9))'"
  "$nono" run --allow . --net-block -- /usr/bin/python3 -c 'import socket; socket.create_connection(("127.0.0.1", 9))' 2>&1 | tail -n 1 || true
  echo "(denied: --net-block closes TCP in Landlock and every other socket family in seccomp)"
fi

step "nono exec quickstart.bundle -- cat private/notes.txt     # examples/quickstart.nono: read \$CWD, deny \$CWD/private"
"$nonoc" compile "$repo/examples/quickstart.nono" --target linux -o "$demo/quickstart.bundle" 2>/dev/null
"$nono" exec "$demo/quickstart.bundle" -- cat private/notes.txt || denied $? "denied: a deny inside a readable tree still holds (examples/quickstart.nono)"
