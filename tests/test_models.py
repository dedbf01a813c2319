"""Properties the book states as facts, checked on every model."""
import pytest
import torch

from bst_teach.data.samples import shuffle_history
from bst_teach.features import PAD
from bst_teach.models import BST, DIN, EmbeddingMLP, build_model
from bst_teach.models.layers import init_embedding_

ALL = [("wdl", {}), ("din", {}), ("din", {"time_features": True}),
       ("bst", {"position": "none"}), ("bst", {"position": "index"}),
       ("bst", {"position": "time"}), ("bst", {"position": "both"}),
       ("bst", {"blocks": 3}), ("bst", {"norm": "batch"}), ("bst", {"norm": "none"})]


def model_for(schema, name, kw, seed=0):
    """A fresh model whose embeddings are N(0, 1) (padding rows still 0), the spread of trained ones.

    New tables start small (N(0, 0.1^2) or less), so an untrained model's output hardly depends on
    its input, and order effects would hide in rounding noise.
    """
    torch.manual_seed(seed)
    model = build_model(name, schema, **kw).eval()
    for table in model.modules():
        if isinstance(table, torch.nn.Embedding):
            init_embedding_(table, std=1.0)
    return model


def pad_more(batch, extra=7):
    out = dict(batch)
    for k in ("hist_item", "hist_cat", "hist_time"):
        out[k] = torch.cat([batch[k], torch.zeros(len(batch[k]), extra, dtype=torch.long)], 1)
    return out


def test_din_score_unchanged_under_any_permutation(small_data, batch):
    model = model_for(small_data.schema, "din", {})
    with torch.no_grad():
        ref = model(batch)
        for seed in range(5):
            torch.testing.assert_close(model(shuffle_history(batch, seed)), ref)


def test_shuffle_actually_moves_behaviours(batch):
    assert not torch.equal(shuffle_history(batch)["hist_item"], batch["hist_item"])


@pytest.mark.parametrize("position", ["index", "time", "both"])
def test_bst_score_changes_when_order_changes(small_data, batch, position):
    model = model_for(small_data.schema, "bst", {"position": position})
    with torch.no_grad():
        diff = (model(shuffle_history(batch)) - model(batch)).abs()
    assert diff.max() > 1e-4 and (diff > 1e-6).float().mean() > 0.9


def test_bst_without_positions_is_order_blind(small_data, batch):
    model = model_for(small_data.schema, "bst", {"position": "none"})
    with torch.no_grad():
        torch.testing.assert_close(model(shuffle_history(batch)), model(batch), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name,kw", ALL)
def test_extra_padding_changes_nothing(small_data, batch, name, kw):
    model = model_for(small_data.schema, name, kw)
    with torch.no_grad():
        torch.testing.assert_close(model(pad_more(batch)), model(batch), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name,kw", ALL)
def test_all_padding_history_gives_finite_output(small_data, batch, name, kw):
    model = model_for(small_data.schema, name, kw)
    empty = dict(batch)
    for k in ("hist_item", "hist_cat", "hist_time"):
        empty[k] = torch.zeros_like(batch[k])
    with torch.no_grad():
        assert torch.isfinite(model(empty)).all()
    if name in ("din", "bst"):
        logits, attention = model(empty, return_attention=True)
        assert torch.isfinite(logits).all()
        weights = attention if name == "din" else torch.stack(attention)
        assert torch.isfinite(weights).all()


def test_attention_weights_shapes_and_masking(small_data, batch):
    model = model_for(small_data.schema, "bst", {"blocks": 2, "heads": 4})
    logits, attention = model(batch, return_attention=True)
    B, L = batch["hist_item"].shape
    assert len(attention) == 2 and attention[0].shape == (B, 4, L + 1, L + 1)
    torch.testing.assert_close(attention[0].sum(-1), torch.ones(B, 4, L + 1))
    pad = (batch["hist_item"] == PAD)[:, None, None, :]  # keys that are padding get no weight
    assert (attention[0][..., :L].masked_select(pad.expand(-1, 4, L + 1, -1)) == 0).all()
    torch.testing.assert_close(logits, model(batch))  # explicit and fused attention agree


def test_din_attention_is_zero_on_padding(small_data, batch):
    model = model_for(small_data.schema, "din", {})
    _, weights = model(batch, return_attention=True)
    assert (weights[batch["hist_item"] == PAD] == 0).all()


def one_sample_in_two_batches(model, batch):
    """Training-mode output of sample 0 when batched with samples 1..15 and with 16..31."""
    a = {k: torch.cat([v[:1], v[1:16]]) for k, v in batch.items()}
    b = {k: torch.cat([v[:1], v[16:32]]) for k, v in batch.items()}
    model.train()
    torch.manual_seed(0)
    out_a = model(a)[0]
    torch.manual_seed(0)
    out_b = model(b)[0]
    return out_a, out_b


def test_layernorm_output_independent_of_batch_mates(small_data, batch):
    model = model_for(small_data.schema, "bst", {"norm": "layer", "dropout": 0.0})
    model.head.net = torch.nn.Sequential(*[m for m in model.head.net if not isinstance(m, torch.nn.Dropout)])
    out_a, out_b = one_sample_in_two_batches(model, batch)
    torch.testing.assert_close(out_a, out_b)


def test_batchnorm_output_depends_on_batch_mates(small_data, batch):
    model = model_for(small_data.schema, "bst", {"norm": "batch", "dropout": 0.0})
    out_a, out_b = one_sample_in_two_batches(model, batch)
    assert (out_a - out_b).abs() > 1e-4


def test_invalid_config_is_rejected(small_data):
    with pytest.raises(ValueError, match="position"):
        build_model("bst", small_data.schema, position="sinusoid")
    with pytest.raises(ValueError, match="unknown model"):
        build_model("gru", small_data.schema)


def test_model_classes_exported():
    assert {EmbeddingMLP.name, DIN.name, BST.name} == {"wdl", "din", "bst"}
