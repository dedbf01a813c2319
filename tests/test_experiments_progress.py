"""cached_fit says what it does (training, done, loaded from cache) unless BST_TEACH_PROGRESS=0."""
from bst_teach.experiments import cached_fit
from bst_teach.train import TrainConfig

ONE_EPOCH = TrainConfig(epochs=1, progress=False)


def test_messages(small_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BST_TEACH_CACHE", str(tmp_path))
    monkeypatch.setenv("BST_TEACH_PROGRESS", "1")
    first = cached_fit("wdl", small_data, ONE_EPOCH)
    out = capsys.readouterr()
    label = f"wdl on {small_data.name} (seed 0)"
    assert out.out.splitlines() == [
        f"{label}: training, up to 1 epochs (stored for next time)",
        f"{label}: done, 1 epochs in {first.train_seconds:.0f} s, test AUC {first.test_auc:.3f}"]
    assert "batch" in out.err  # the tqdm bar (a widget in JupyterLab, text here)
    cached_fit("wdl", small_data, ONE_EPOCH)
    out = capsys.readouterr()
    assert out.out == (f"{label}: loaded from cache (trained once in {first.train_seconds:.0f} s, "
                       f"1 epochs, test AUC {first.test_auc:.3f})\n")
    assert out.err == ""


def test_silent_when_executing_notebooks(small_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BST_TEACH_CACHE", str(tmp_path))
    monkeypatch.setenv("BST_TEACH_PROGRESS", "0")
    cached_fit("wdl", small_data, ONE_EPOCH)
    cached_fit("wdl", small_data, ONE_EPOCH)
    out = capsys.readouterr()
    assert out.out == out.err == ""
