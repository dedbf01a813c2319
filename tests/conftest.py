import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts (see bst_teach/__init__.py)

import pytest  # noqa: E402
import torch  # noqa: E402

from bst_teach.data.synthetic import make_synthetic

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def small_data():
    """A small synthetic data set (fast to build and to train on)."""
    return make_synthetic(n_train=2000, n_val=500, n_test=500, seed=1)


@pytest.fixture
def batch(small_data):
    return {k: v[:64] for k, v in small_data.tensors("test").items()}
