"""bst_teach: a small, readable PyTorch package for learning the Behavior Sequence Transformer.

Importing the package first makes PyTorch's OpenMP threads *sleep* while they wait for work
(``OMP_WAIT_POLICY=PASSIVE``) instead of spinning.  Spinning threads wait on each other as soon
as another process takes a core, and a training step can then take many times longer.  OpenMP
reads the variable once, when torch is loaded, so it only helps if ``import bst_teach`` comes
before ``import torch``.  When torch was loaded first and the variable is unset, we fall back to
one thread, which has no other thread to wait for.
"""
import os
import sys

if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
elif "OMP_WAIT_POLICY" not in os.environ:
    sys.modules["torch"].set_num_threads(1)

from .resources import bench_results, bench_results_path  # noqa: E402  (after the OpenMP setting)

__all__ = ["bench_results", "bench_results_path"]
