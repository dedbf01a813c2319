#!/usr/bin/env bash
# Create .venv-bench (at the repository root) for bench/run.py: our package with its pinned
# requirements plus the peers of bench/requirements.txt.  Independent of the Makefile and of .venv.
#
#     bash bench/setup.sh            # then: .venv-bench/bin/python bench/run.py
#
# torch goes in first, pinned, so no later install can swap in another build (any looser torch spec
# pulls a multi-GB CUDA wheel); the script fails if torch is not 2.13.0 at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-bench
PIP="$VENV/bin/pip --disable-pip-version-check --quiet"
quiet() { "$@" 2>&1 | { grep -v "is ignored" || true; }; return "${PIPESTATUS[0]}"; }

test -x "$VENV/bin/python" || python3 -m venv "$VENV"
quiet $PIP install torch==2.13.0
quiet $PIP install -r requirements.txt          # our runtime/book requirements, pinned
quiet $PIP install -e .                         # bst_teach itself (its deps are already satisfied)
quiet $PIP install -r bench/requirements.txt    # the peers
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md
import torch
assert torch.__version__.startswith("2.13.0"), f"torch was replaced: {torch.__version__}"
import bst_teach, torch_rechub, deepctr_torch  # noqa: F401  (all three import)
print("torch", torch.__version__, "| torch-rechub", md.version("torch-rechub"),
      "| deepctr-torch", md.version("deepctr-torch"))
PY
