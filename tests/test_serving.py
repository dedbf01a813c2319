"""Scoring many candidates with the history encoded once gives the batched forward pass's logits."""
import pytest
import torch

from bst_teach.models import build_model
from bst_teach.models.layers import init_embedding_
from bst_teach.serving import score_candidates


def one_user_batch(batch, user=0):
    """Every sample of ``batch`` as a candidate for the history of sample ``user``."""
    out = dict(batch)
    for k in ("hist_item", "hist_cat", "hist_time"):
        out[k] = batch[k][user:user + 1].expand(len(batch[k]), -1)
    return out


@pytest.mark.parametrize("kw", [{}, {"blocks": 2}, {"blocks": 3, "position": "index"},
                                {"position": "time"}, {"position": "none", "norm": "none"},
                                {"blocks": 2, "norm": "batch"}])
@pytest.mark.parametrize("user", [0, 5])
def test_scores_equal_the_batched_forward_pass(small_data, batch, kw, user):
    torch.manual_seed(0)
    model = build_model("bst", small_data.schema, **kw).eval()
    for table in model.modules():  # spread-out embeddings, so that a mistake shows
        if isinstance(table, torch.nn.Embedding):
            init_embedding_(table, std=1.0)
    full = one_user_batch(batch, user)
    with torch.no_grad():
        expected = model(full)
    user_hist = {k: batch[k][user] for k in ("hist_item", "hist_cat", "hist_time")}
    got = score_candidates(model, user_hist, full)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_empty_history_and_training_mode(small_data, batch):
    model = build_model("bst", small_data.schema, blocks=2).eval()
    empty = {k: torch.zeros_like(batch[k][0]) for k in ("hist_item", "hist_cat", "hist_time")}
    full = {**batch, **{k: v.expand(len(batch["label"]), -1) for k, v in empty.items()}}
    with torch.no_grad():
        torch.testing.assert_close(score_candidates(model, empty, batch), model(full),
                                   atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="eval"):
        score_candidates(model.train(), empty, batch)
