"""Scoring many candidates with the history encoded once gives the batched forward pass's logits."""
from dataclasses import replace

import pytest
import torch

from bst_teach import serving
from bst_teach.features import PAD
from bst_teach.models import build_model
from bst_teach.models.layers import init_embedding_
from bst_teach.serving import Server, score_candidates

HISTORY = ("hist_item", "hist_cat", "hist_time")
CONFIGS = [{}, {"blocks": 2}, {"blocks": 3, "position": "index"}, {"position": "time"},
           {"position": "none", "norm": "none"}, {"norm": "batch"}, {"blocks": 2, "norm": "batch"}]


def one_user_batch(batch, user=0):
    """Every sample of ``batch`` as a candidate for the history of sample ``user``."""
    out = dict(batch)
    for k in HISTORY:
        out[k] = batch[k][user:user + 1].expand(len(batch[k]), -1)
    return out


def spread_model(schema, **kw):
    """An eval-mode BST with spread-out embeddings and random norm statistics, so that a mistake
    shows."""
    torch.manual_seed(0)
    model = build_model("bst", schema, **kw)
    for m in model.modules():
        if isinstance(m, torch.nn.Embedding):
            init_embedding_(m, std=1.0)
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.LayerNorm)):
            torch.nn.init.normal_(m.weight, 1.0, 0.3)
            torch.nn.init.normal_(m.bias, 0.0, 0.3)
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.normal_(0.0, 0.3)
            m.running_var.uniform_(0.5, 2.0)
    with torch.no_grad():  # logits of order 1 (not 0.05), so that atol=1e-5 is a tight test
        model.head.net[-1].weight.mul_(30)
    return model.eval()


@pytest.mark.parametrize("how", ["score_candidates", "Server"])
@pytest.mark.parametrize("kw", CONFIGS)
@pytest.mark.parametrize("user", [0, 2])  # a full history, one with padding at the end
def test_scores_equal_the_batched_forward_pass(small_data, batch, kw, user, how):
    model = spread_model(small_data.schema, **kw)
    assert (batch["hist_item"][user] == PAD).any() == (user == 2)
    full = one_user_batch(batch, user)
    with torch.no_grad():
        expected = model(full)
    user_hist = {k: batch[k][user] for k in HISTORY}
    score = Server(model) if how == "Server" else lambda u, c: score_candidates(model, u, c)
    torch.testing.assert_close(score(user_hist, full), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("blocks", [1, 2])
def test_padding_anywhere_in_the_history(small_data, batch, blocks, monkeypatch):
    """A slot is padding wherever its item is PAD, not only at the end of the history.  (With
    two blocks, candidates in chunks of 5.)"""
    monkeypatch.setattr(serving, "CHUNK_TOKENS", 5 * 21)
    model = spread_model(small_data.schema, blocks=blocks)
    server = Server(model)
    user = {k: batch[k][0].clone() for k in HISTORY}
    user["hist_item"][::3] = PAD
    for hist in (user, {k: v.roll(1) for k, v in user.items()}):
        cands = {**batch, **{k: v.expand(len(batch["label"]), -1) for k, v in hist.items()}}
        with torch.no_grad():
            expected = model(cands)
        torch.testing.assert_close(server(hist, cands), expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(score_candidates(model, hist, cands), expected,
                                   atol=1e-5, rtol=1e-5)


def test_server_other_feature_widths_and_a_batch_shaped_history(small_data, batch):
    """Features of different embedding widths (one look-up per table); user tensors (1, L)."""
    features = list(small_data.schema.features)
    features[1] = replace(features[1], embed_dim=3)
    model = spread_model(replace(small_data.schema, features=tuple(features)), blocks=2)
    assert not model.other.same_width
    with torch.no_grad():
        expected = model(one_user_batch(batch, 2))
    user = {k: batch[k][2:3] for k in HISTORY}  # (1, L)
    torch.testing.assert_close(Server(model)(user, batch), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("how", ["score_candidates", "Server"])
def test_empty_history_and_training_mode(small_data, batch, how):
    model = build_model("bst", small_data.schema, blocks=2).eval()
    empty = {k: torch.zeros_like(batch[k][0]) for k in HISTORY}
    full = {**batch, **{k: v.expand(len(batch["label"]), -1) for k, v in empty.items()}}
    score = Server(model) if how == "Server" else lambda u, c: score_candidates(model, u, c)
    with torch.no_grad():
        torch.testing.assert_close(score(empty, batch), model(full), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="eval"):
        if how == "Server":
            Server(model.train())
        else:
            score_candidates(model.train(), empty, batch)


def test_server_refuses_stale_weights_and_other_models(small_data, batch):
    model = build_model("bst", small_data.schema).eval()
    server = Server(model)
    user = {k: batch[k][0] for k in HISTORY}
    server(user, batch)
    with torch.no_grad():
        model.blocks[0].ffn[0].weight.mul_(2)  # as an optimiser step would, in place
    with pytest.raises(ValueError, match="changed"):
        server(user, batch)
    with pytest.raises(ValueError, match="BST"):
        Server(build_model("din", small_data.schema).eval())
