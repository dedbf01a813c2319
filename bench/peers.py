"""Adapters: the peers' BST and DIN built from *our* schema and fed *our* batches.

Peers (pinned in ``bench/requirements.txt``):

* torch-rechub 0.9.0: ``torch_rechub.models.ranking.BST`` and ``DIN``;
* deepctr-torch 0.3.0: ``deepctr_torch.models.DIN``.

Each adapter is an ``nn.Module`` with a ``name``, a ``convert(batch)`` that turns our batch dict
(see ``bst_teach.data.samples``: sparse (B, F), target_item / target_cat (B,), hist_item /
hist_cat / hist_time (B, L), label (B,)) into the peer's input, and a ``core`` (the peer's own
model).  ``forward(batch)`` returns *logits* like our models, so ``bst_teach.train.train`` trains an
adapter exactly as it trains ours (same split, shuffling, optimiser, early stopping).  Benchmarks of
speed call ``proba(convert(batch))`` with the conversion done *before* the clock starts, so a peer
pays nothing for our batch format; ``core`` returns a probability, as the peers' own trainers use it.

Settings: every model of the benchmark is built from one :data:`SETTINGS` dict.  What could not be
matched exactly is listed in :data:`MISMATCHES` (and copied into ``results.json``).
"""
from __future__ import annotations

import torch
from torch import nn

from bst_teach.experiments import BOOK_TRAIN
from bst_teach.features import PAD, Schema

# One place for every size the benchmark shares between our models and the peers'.
SETTINGS = {
    "batch_size": 256,
    "item_dim": 16, "cat_dim": 8, "pos_dim": 8,  # ours: BST token width D = 16 + 8 + 8 = 32
    "other_dim": 8,  # every user / item / context / cross feature (our Schema's default)
    "heads": 4, "blocks": 1, "ffn_mult": 4,  # feed-forward width 4 * D = 128
    "bst_dropout": 0.1, "din_dropout": 0.2,  # our BSTConfig / DINConfig defaults
    "hidden": (128, 64),  # prediction MLP
    "attention_hidden": (64, 32),  # DIN's local activation unit
    "optimizer": f"Adam(lr={BOOK_TRAIN.lr:g})",
}

MISMATCHES = {
    "torch-rechub BST": [
        "Token width D = 32 as ours, but made differently: torch-rechub *adds* a 32-wide position "
        "embedding to [item; category] and its EmbeddingLayer can only stack sequence features of "
        "equal width, so item 16 + category 16 (ours: item 16 + category 8, concatenated with an "
        "8-wide position vector).",
        "Positions: torch-rechub uses absolute slot indices 0..L counted from the oldest slot "
        "(padding included, so the target's index is always L); ours default to 'both' = a "
        "recency-rank embedding plus a time-gap-bucket embedding, zero at padding.",
        "Feed-forward width: torch-rechub's constructor does not expose dim_feedforward, so "
        "nn.TransformerEncoderLayer's default 2048 applies.  The adapter rebuilds the encoder with "
        "the same arguments and dim_feedforward = 4 * D = 128 to match ours ('matched FFN'); the "
        "'as shipped' variant keeps 2048.",
        "Attention dropout: nn.TransformerEncoderLayer applies its dropout also to the attention "
        "weights.  Besides being absent from the paper and from ours, that forces PyTorch's "
        "scaled-dot-product attention off its fused CPU kernel onto the 'math' path, which builds "
        "the (B, H, T, T) weight matrix and draws a (B, H, T, T) dropout mask: most of the peer's "
        "training time at L = 200 (profiled).  The matched variant sets self_attn.dropout = 0; "
        "'as shipped' keeps it.  Dropout inside its feed-forward (after the activation) stays in "
        "both; ours has none there.",
        "Prediction MLP: torch-rechub's MLP always puts BatchNorm1d after each Linear (ours has no "
        "norm there); activation set to LeakyReLU like ours; its output Linear(64, 1) as ours.",
        "MLP input: torch-rechub concatenates the target-slot output, the target's own embeddings "
        "and the other features (32 + 32 + 8F); ours the other features and the target-slot output "
        "(8F + 32).",
        "Embedding initialisation: torch-rechub normal with standard deviation 1e-4 (its default, "
        "kept); ours normal with standard deviation 0.1 (behaviour tokens) and 0.01 (profile "
        "features).",
        "Output: a probability (sigmoid inside the model); trained with BCE on it, as torch-rechub's "
        "trainer does; the adapter's forward returns logit(p) for bst_teach.train.",
    ],
    "torch-rechub DIN": [
        "Item and category embeddings must have equal widths (EmbeddingLayer stacks them): 12 + 12 "
        "= 24, the same total as ours (16 + 8).",
        "One activation unit per history feature (two units on 4 * 12 inputs) instead of ours on "
        "the concatenated 4 * 24; hidden (64, 32) in both.",
        "Its MLPs always have BatchNorm1d after each Linear, the attention unit's included; the "
        "prediction MLP's activation is hard-wired to Dice (ours: LeakyReLU); the attention unit's "
        "activation set to LeakyReLU like ours.",
        "No explicit padding mask: padding rows embed to zero (padding_idx = 0), so they add nothing "
        "to the weighted sum, as in ours.",
        "Embedding initialisation normal with standard deviation 1e-4 (its default).",
    ],
    "deepctr-torch DIN": [
        "All widths, activations (LeakyReLU passed as a class), dropout and hidden sizes match ours.",
        "Masking by a history-length column (positions >= length get weight 0), equivalent to our "
        "mask for right-padded histories.",
        "Its output Linear(64, 1) has no bias; embeddings normal with standard deviation 1e-4; l2_reg_embedding set to 0 (it "
        "only enters deepctr's own fit()).",
        "Its forward also mean-pools every history feature (input_from_feature_columns) and throws "
        "the result away: work the peer really does, so it is timed.",
        "Input: one float tensor (B, F + 2 + 2L + 1) of ids, as deepctr's fit() builds it.",
    ],
}


def _logit(p: torch.Tensor) -> torch.Tensor:
    return torch.logit(p.clamp(1e-7, 1 - 1e-7))


class PeerAdapter(nn.Module):
    """Base: ``forward(batch) -> logits (B,)``; ``proba(convert(batch)) -> probabilities (B,)``."""

    name = "peer"
    label = "peer"

    def convert(self, batch):  # pragma: no cover - overridden
        raise NotImplementedError

    def proba(self, x) -> torch.Tensor:
        """The peer's own output on already converted input, as (B,) probabilities."""
        return self.core(x).reshape(-1)

    def forward(self, batch):
        return _logit(self.proba(self.convert(batch)))


# ---------------------------------------------------------------------------------------------
# torch-rechub
# ---------------------------------------------------------------------------------------------
def _rechub_features(schema: Schema, seq_dim: int):
    """Fresh feature objects (torch-rechub caches the embedding table *on the feature object*, so
    two models built from the same objects would share their tables)."""
    from torch_rechub.basic.features import SequenceFeature, SparseFeature

    others = [SparseFeature(f.name, f.vocab_size, f.embed_dim, padding_idx=PAD)
              for f in schema.features]
    history = [SequenceFeature("hist_item", schema.n_items, seq_dim, pooling="concat", padding_idx=PAD),
               SequenceFeature("hist_cat", schema.n_categories, seq_dim, pooling="concat",
                               padding_idx=PAD)]
    target = [SparseFeature("target_item", schema.n_items, seq_dim, shared_with="hist_item",
                            padding_idx=PAD),
              SparseFeature("target_cat", schema.n_categories, seq_dim, shared_with="hist_cat",
                            padding_idx=PAD)]
    return others, history, target


def _rechub_convert(schema: Schema, batch):
    x = {f.name: batch["sparse"][:, i] for i, f in enumerate(schema.features)}
    for k in ("hist_item", "hist_cat", "target_item", "target_cat"):
        x[k] = batch[k]
    return x


class RechubBST(PeerAdapter):
    """torch-rechub 0.9.0 BST.  ``ffn``: feed-forward width (None = as shipped, 2048)."""

    name = "rechub_bst"

    def __init__(self, schema: Schema, max_len: int, ffn: int | None = None):
        super().__init__()
        from torch_rechub.models.ranking import BST

        s = SETTINGS
        d = s["item_dim"] + s["cat_dim"] + s["pos_dim"]  # 32, as our token
        self.schema = schema
        others, history, target = _rechub_features(schema, d // 2)
        self.core = BST(others, history, target,
                        mlp_params={"dims": list(s["hidden"]), "dropout": s["bst_dropout"],
                                    "activation": "leakyrelu"},
                        nhead=s["heads"], dropout=s["bst_dropout"], num_layers=s["blocks"],
                        max_seq_len=max_len + 1)
        self.ffn = ffn or self.core.transformer_layers.layers[0].linear1.out_features
        self.matched = ffn is not None
        if self.matched:  # same arguments as torch-rechub's, but dim_feedforward given ...
            layer = nn.TransformerEncoderLayer(d_model=d, nhead=s["heads"], dim_feedforward=ffn,
                                               dropout=s["bst_dropout"], activation=nn.LeakyReLU(),
                                               batch_first=True)
            # ... and no dropout on the attention weights, as in the paper and in ours (dropout
            # stays on the two residual branches and inside the feed-forward).
            layer.self_attn.dropout = 0.0
            self.core.transformer_layers = nn.TransformerEncoder(layer, num_layers=s["blocks"],
                                                                 enable_nested_tensor=False)
        self.label = f"torch-rechub BST (FFN {self.ffn})"

    def convert(self, batch):
        return _rechub_convert(self.schema, batch)


class RechubDIN(PeerAdapter):
    """torch-rechub 0.9.0 DIN."""

    name = "rechub_din"
    label = "torch-rechub DIN"

    def __init__(self, schema: Schema):
        super().__init__()
        from torch_rechub.models.ranking import DIN

        s = SETTINGS
        self.schema = schema
        others, history, target = _rechub_features(schema, (s["item_dim"] + s["cat_dim"]) // 2)
        self.core = DIN(others, history, target,
                        mlp_params={"dims": list(s["hidden"]), "dropout": s["din_dropout"]},
                        attention_mlp_params={"dims": list(s["attention_hidden"]),
                                              "activation": "leakyrelu"})

    def convert(self, batch):
        return _rechub_convert(self.schema, batch)


# ---------------------------------------------------------------------------------------------
# deepctr-torch
# ---------------------------------------------------------------------------------------------
class DeepctrDIN(PeerAdapter):
    """deepctr-torch 0.3.0 DIN, fed the float id matrix its ``fit()`` would build."""

    name = "deepctr_din"
    label = "deepctr-torch DIN"

    def __init__(self, schema: Schema, max_len: int):
        super().__init__()
        from deepctr_torch.inputs import SparseFeat, VarLenSparseFeat
        from deepctr_torch.models import DIN

        s = SETTINGS
        self.schema, self.max_len = schema, max_len
        columns = [SparseFeat(f.name, f.vocab_size, f.embed_dim) for f in schema.features]
        columns += [SparseFeat("item", schema.n_items, s["item_dim"]),
                    SparseFeat("cat", schema.n_categories, s["cat_dim"])]
        columns += [VarLenSparseFeat(SparseFeat("hist_item", schema.n_items, s["item_dim"],
                                                embedding_name="item"), max_len, length_name="hist_len"),
                    VarLenSparseFeat(SparseFeat("hist_cat", schema.n_categories, s["cat_dim"],
                                                embedding_name="cat"), max_len, length_name="hist_len")]
        rng_state = torch.get_rng_state()  # deepctr's BaseModel calls torch.manual_seed(1024)
        self.core = DIN(columns, ["item", "cat"], dnn_use_bn=False, dnn_hidden_units=s["hidden"],
                        dnn_activation=nn.LeakyReLU, att_hidden_size=s["attention_hidden"],
                        att_activation=nn.LeakyReLU, att_weight_normalization=False,
                        l2_reg_embedding=0.0, dnn_dropout=s["din_dropout"], device="cpu",
                        seed=int(torch.randint(0, 2**31 - 1, ()).item()))
        torch.set_rng_state(rng_state)
        self.index = self.core.feature_index  # name -> (start, end) columns of the input matrix

    def convert(self, batch):
        parts = {f.name: batch["sparse"][:, i:i + 1] for i, f in enumerate(self.schema.features)}
        parts.update(item=batch["target_item"][:, None], cat=batch["target_cat"][:, None],
                     hist_item=batch["hist_item"], hist_cat=batch["hist_cat"],
                     hist_len=(batch["hist_item"] != PAD).sum(1, keepdim=True))
        order = sorted(self.index, key=lambda k: self.index[k][0])
        return torch.cat([parts[k] for k in order], dim=1).float()


PEERS = {"rechub_bst": RechubBST, "rechub_din": RechubDIN, "deepctr_din": DeepctrDIN}


def build_peer(name: str, schema: Schema, max_len: int, **kw) -> PeerAdapter:
    """``build_peer("rechub_bst", schema, 20, ffn=128)``."""
    if name == "rechub_bst":
        return RechubBST(schema, max_len, **kw)
    if name == "rechub_din":
        return RechubDIN(schema)
    if name == "deepctr_din":
        return DeepctrDIN(schema, max_len)
    raise ValueError(f"unknown peer {name!r}: choose one of {sorted(PEERS)}")


@torch.no_grad()
def batch_independent(model: nn.Module, batch, other, atol: float = 1e-5) -> bool:
    """In eval mode, is a sample's score independent of the *other* samples of its batch?

    Keeps the first half of ``batch``, replaces the second half by rows of ``other`` and checks
    that the first half's scores do not move.  (Reversing the batch would not do: an encoder that
    attends across the batch without positions is permutation-equivariant.)  An encoder built with
    batch_first=False but fed (B, T, D) -- torch-rechub <= 0.5 -- attends across the batch and
    fails this.
    """
    was = model.training
    model.eval()
    h = len(batch["label"]) // 2
    mixed = {k: torch.cat([v[:h], other[k][h:]]) for k, v in batch.items()}
    ok = torch.allclose(model(batch)[:h], model(mixed)[:h], atol=atol)
    model.train(was)
    return bool(ok)
