"""``import bst_teach`` keeps PyTorch's threads from spinning (see bst_teach/__init__.py)."""
import os
import subprocess
import sys


def run(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_import_before_torch_sets_passive_wait_policy():
    assert run("import os, bst_teach, torch; print(os.environ['OMP_WAIT_POLICY'])") == "PASSIVE"


def test_torch_imported_first_falls_back_to_one_thread():
    code = "import torch; torch.set_num_threads(2); import bst_teach; print(torch.get_num_threads())"
    assert run(code) == "1"
