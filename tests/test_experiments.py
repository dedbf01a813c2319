from bst_teach.data.synthetic import make_synthetic
from bst_teach.experiments import cached_fit, data_fingerprint
from bst_teach.train import TrainConfig


def test_cache_returns_the_stored_run(tmp_path, monkeypatch, small_data):
    monkeypatch.setenv("BST_TEACH_CACHE", str(tmp_path))
    cfg = TrainConfig(epochs=1, progress=False)
    first = cached_fit("wdl", small_data, cfg)
    assert len(list((tmp_path / "runs").glob("*.pt"))) == 1
    again = cached_fit("wdl", small_data, cfg)
    assert again.test_auc == first.test_auc and again.history == first.history
    other = cached_fit("wdl", small_data, TrainConfig(epochs=1, seed=9, progress=False))
    assert len(list((tmp_path / "runs").glob("*.pt"))) == 2 and other.test_auc != first.test_auc


def test_fingerprint_tracks_the_data():
    a, b = make_synthetic(300, 100, 100, seed=0), make_synthetic(300, 100, 100, seed=1)
    assert data_fingerprint(a) == data_fingerprint(make_synthetic(300, 100, 100, seed=0))
    assert data_fingerprint(a) != data_fingerprint(b)
