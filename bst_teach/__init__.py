"""bst_teach: a small, readable PyTorch package for learning the Behavior Sequence Transformer."""
from .resources import bench_results, bench_results_path

__all__ = ["bench_results", "bench_results_path"]
