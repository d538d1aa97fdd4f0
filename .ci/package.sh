#!/usr/bin/env bash
# The package builds for an index: sdist from the clone, a wheel from that sdist (so the sdist holds all a build needs),
# and the wheel installed into a fresh virtual environment, where `import brats_repro` and `brats_repro --help` work.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python -m pip install -q build
python -m build --sdist --outdir "$work/sdist" . > "$work/build.log" 2>&1 || { tail -20 "$work/build.log"; exit 1; }
sdist=$(ls "$work"/sdist/*.tar.gz)
tar xzf "$sdist" -C "$work"
python -m build --wheel --outdir "$work/wheel" "$work"/brats_repro-*/ > "$work/wheel.log" 2>&1 || { tail -20 "$work/wheel.log"; exit 1; }
wheel=$(ls "$work"/wheel/*.whl)
echo "built $(basename "$sdist") and, from it, $(basename "$wheel")"
python -m venv "$work/venv"
"$work/venv/bin/pip" install -q torch==2.13.0 "$wheel" > "$work/install.log" 2>&1 || { tail -20 "$work/install.log"; exit 1; }
(cd "$work" && "$work/venv/bin/python" -c "import brats_repro; print('import brats_repro', brats_repro.__version__, 'from', brats_repro.__file__)")
(cd "$work" && "$work/venv/bin/brats_repro" --help > /dev/null) && echo "brats_repro --help: ok"
(cd "$work" && "$work/venv/bin/brats_repro" --version)
