"""Chapter 3's pictures of the Behavior Sequence Transformer: a step-by-step walk through one batch,
a data-flow figure whose shapes come from that walk, a parameter count per part and training curves.

    steps = walk_through(model, batch)     # name -> tensor, in the order the data flows
    plot_architecture(steps, model)         # boxes and arrows labelled with the real shapes
    parameter_table(model)                  # parameters per part, as a DataFrame
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
import torch
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import MaxNLocator

from ..features import PAD


@torch.no_grad()
def walk_through(model, batch) -> dict[str, torch.Tensor]:
    """Run a BST on ``batch`` one piece at a time, keeping every intermediate tensor.

    The pieces are the model's own modules, called in the order ``BST.forward`` calls them, with the
    attention spelled out (scores, mask, softmax).  The last entry, ``"logit"``, is checked against
    ``model(batch)``, so the walk cannot drift from the real forward pass.  Run in eval mode
    (dropout off).  Returns an ordered dict: name -> tensor.
    """
    was_training = model.training
    model.eval()
    c, out = model.config, {}
    out["hist_item"], out["target_item"] = batch["hist_item"], batch["target_item"]
    items = torch.cat([batch["hist_item"], batch["target_item"].unsqueeze(1)], dim=1)
    cats = torch.cat([batch["hist_cat"], batch["target_cat"].unsqueeze(1)], dim=1)
    out["sequence ids"] = items  # (B, T): the target appended last
    out["item embedding"] = model.items.item(items)
    out["category embedding"] = model.items.cat(cats)
    out["position embedding"] = model.position_embedding(batch)
    s = torch.cat([out["item embedding"], out["category embedding"],
                   out["position embedding"]], dim=-1)
    out["tokens S"] = s
    key_mask = items != PAD
    key_mask[:, -1] = True  # the target slot is never masked
    out["key mask"] = key_mask
    for b, block in enumerate(model.blocks):
        tag = f" [block {b + 1}]" if len(model.blocks) > 1 else ""
        att = block.attention
        B, T, D = s.shape
        q, k, v = att.qkv(s).view(B, T, 3, att.heads, D // att.heads).permute(2, 0, 3, 1, 4)
        out["queries Q" + tag], out["keys K" + tag], out["values V" + tag] = q, k, v
        scores = q @ k.transpose(-2, -1) / math.sqrt(D // att.heads)
        weights = scores.masked_fill(~key_mask[:, None, None, :], float("-inf")).softmax(-1)
        out["attention weights" + tag] = weights
        heads = weights @ v
        out["heads output" + tag] = heads
        a = att.out(heads.transpose(1, 2).reshape(B, T, D))
        out["multi-head output" + tag] = a
        s = block.norm1(s + a)
        out["S' = Norm(S + MH(S))" + tag] = s
        hidden = block.ffn[1](block.ffn[0](s))
        out["feed-forward hidden" + tag] = hidden
        s = block.norm2(s + block.ffn[2](hidden))
        out["F = Norm(S' + FFN(S'))" + tag] = s
    out["target slot output"] = s[:, -1]
    out["other features"] = model.other(batch["sparse"])
    x = torch.cat([out["other features"], s[:, -1]], dim=-1)
    out["MLP input"] = x
    n_hidden = 0
    for layer in model.head.net:
        x = layer(x)
        if isinstance(layer, torch.nn.LeakyReLU):
            n_hidden += 1
            out[f"MLP hidden {n_hidden}"] = x
    out["logit"] = x.squeeze(-1)
    expected = model(batch)
    assert torch.allclose(out["logit"], expected, atol=1e-5), "walk_through drifted from forward"
    model.train(was_training)
    return out


def shape_table(steps: dict[str, torch.Tensor]) -> pd.DataFrame:
    """One row per step: its name and shape."""
    return pd.DataFrame({"step": list(steps),
                         "shape": [str(tuple(t.shape)) for t in steps.values()]}).set_index("step")


def _shape(t) -> str:
    return "(" + ", ".join(str(n) for n in t.shape) + ")"


def _box(ax, x, y, w, h, title, detail, color):
    """A rounded box centred at (x, y) in data units, a bold title and a monospace detail line."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, fc=color, ec="0.25", lw=1.1,
                                boxstyle="round,pad=0,rounding_size=1.2"))
    if detail:
        ax.text(x, y + h / 2 - 1.0, title, ha="center", va="top", fontsize=9.5, weight="bold")
        ax.text(x, y - h / 2 + 1.0, detail, ha="center", va="bottom", fontsize=8.3,
                family="monospace", linespacing=1.4)
    else:
        ax.text(x, y, title, ha="center", va="center", fontsize=9.5, weight="bold")
    return (x, y - h / 2), (x, y + h / 2)  # bottom and top anchors


def _arrow(ax, start, end, text=None, text_y=None):
    ax.annotate("", xy=end, xytext=start,
                arrowprops=dict(arrowstyle="-|>", lw=1.2, color="0.3", shrinkA=0, shrinkB=0))
    if text:
        y = (start[1] + end[1]) / 2 if text_y is None else text_y
        ax.text(start[0] + 1.2, y, text, fontsize=8, family="monospace", va="center",
                color="0.15")


def _residual(ax, start, end, x_side):
    """A skip connection: from ``start`` out to ``x_side``, up, and into ``end`` (a box's side)."""
    ax.plot([start[0], x_side, x_side], [start[1], start[1], end[1]], color="0.55", lw=1, ls="-")
    ax.annotate("", xy=end, xytext=(x_side, end[1]),
                arrowprops=dict(arrowstyle="-|>", lw=1, color="0.55", shrinkA=0, shrinkB=0))


def plot_architecture(steps: dict[str, torch.Tensor], model, ax=None):
    """The BST as boxes and arrows, data flowing bottom to top as in the paper's Figure 1.

    Every shape printed in the figure is read from ``steps`` (see :func:`walk_through`); the
    sizes of the token parts come from ``model.config``.  Grey side arrows are the residual
    connections.
    """
    c = model.config
    B, T, D = steps["tokens S"].shape
    L, H = T - 1, c.heads
    n_blocks = sum(k.startswith("attention weights") for k in steps)
    last = lambda prefix: steps[[k for k in steps if k.startswith(prefix)][-1]]  # noqa: E731
    mlp_hidden = [steps[k] for k in steps if k.startswith("MLP hidden")]
    if ax is None:
        _, ax = plt.subplots(figsize=(10.5, 10))
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 116)
    ax.axis("off")
    xs, ws = 36, 50  # sequence column
    xo, wo = 84, 28  # other-features column
    xm, wm = 60, 44  # merged column
    seq_c, enc_c, oth_c, head_c = "#dbe9f6", "#fde2c8", "#e3f1dc", "#eadcf0"

    in_b, in_t = _box(ax, xs, 4, ws, 7, f"behaviour sequence (L = {L}) and target item",
                      f"hist_item {_shape(steps['hist_item'])}   target_item "
                      f"{_shape(steps['target_item'])}", "white")
    oi_b, oi_t = _box(ax, xo, 4, wo, 7, "other features", "user, item, context, cross", "white")
    em_b, em_t = _box(ax, xs, 18, ws, 9, "embedding layer: item ⊕ category ⊕ position",
                      f"{c.item_dim} + {c.cat_dim} + {c.pos_dim} = D = {D} per token\n"
                      f"S {_shape(steps['tokens S'])} = (B, L+1, D)", seq_c)
    _arrow(ax, in_t, em_b, f"target appended: ids {_shape(steps['sequence ids'])}")
    oe_b, oe_t = _box(ax, xo, 18, wo, 9, "embeddings, concatenated",
                      _shape(steps["other features"]), oth_c)
    _arrow(ax, oi_t, oe_b)
    # the encoder block
    ax.add_patch(FancyBboxPatch((xs - ws / 2 - 7, 29), ws + 14, 46, fc="none", ec="0.5",
                                ls="--", lw=1, boxstyle="round,pad=0,rounding_size=1.5"))
    ax.text(xs + ws / 2 + 8.5, 74, f"Transformer block\n× {n_blocks} (post-norm)", fontsize=9,
            ha="left", va="top", color="0.35", style="italic")
    mh_b, mh_t = _box(ax, xs, 39, ws, 9, f"multi-head self-attention, H = {H} heads",
                      f"Q, K, V {_shape(last('queries Q'))} = (B, H, T, D/H)\n"
                      f"weights {_shape(last('attention weights'))}, padded keys masked", enc_c)
    _arrow(ax, em_t, mh_b, f"key mask {_shape(steps['key mask'])}", text_y=25.8)
    n1_b, n1_t = _box(ax, xs, 49.5, ws, 5, "add & LayerNorm:  S' " + _shape(last("S'")), "",
                      enc_c)
    _arrow(ax, mh_t, n1_b)
    ff_b, ff_t = _box(ax, xs, 60, ws, 8, "feed-forward, LeakyReLU",
                      f"{D} → {last('feed-forward hidden').shape[-1]} → {D}, hidden "
                      f"{_shape(last('feed-forward hidden'))}", enc_c)
    _arrow(ax, n1_t, ff_b)
    n2_b, n2_t = _box(ax, xs, 70, ws, 5, "add & LayerNorm:  F " + _shape(last("F =")), "", enc_c)
    _arrow(ax, ff_t, n2_b)
    _residual(ax, (xs, 31.5), (xs - ws / 2, 49.5), xs - ws / 2 - 3)
    _residual(ax, (xs, (n1_t[1] + ff_b[1]) / 2), (xs - ws / 2, 70), xs - ws / 2 - 3)
    # target slot, merge and head
    ts_b, ts_t = _box(ax, xs, 83.5, ws, 7, "output at the target slot:  F[:, -1]",
                      f"{_shape(steps['target slot output'])} = (B, D)", seq_c)
    _arrow(ax, n2_t, ts_b)
    cc_b, cc_t = _box(ax, xm, 95, wm, 7, "concatenate", f"{_shape(steps['MLP input'])}", head_c)
    _arrow(ax, ts_t, (xm - 8, cc_b[1]))
    _arrow(ax, oe_t, (xm + 16, cc_b[1]))
    ml_b, ml_t = _box(ax, xm, 105, wm, 7, "MLP, LeakyReLU",
                      " → ".join(_shape(t) for t in mlp_hidden), head_c)
    _arrow(ax, cc_t, ml_b)
    ax.text(xm, 114, f"logit {_shape(steps['logit'])} → sigmoid → click probability",
            ha="center", va="center", fontsize=9.5, weight="bold")
    _arrow(ax, ml_t, (xm, 112.6))
    ax.set_title(f"BST on a real batch:  B = {B},  L = {L},  T = L + 1 = {T},  D = {D},  H = {H}",
                 fontsize=11, pad=12)
    return ax


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters()) if module is not None else 0


def parameter_table(model) -> pd.DataFrame:
    """Trainable parameters of a BST by part (embeddings, attention, feed-forward, norms, head)."""
    rows = [
        ("embeddings", "item ids", _count(model.items.item)),
        ("embeddings", "category ids", _count(model.items.cat)),
        ("embeddings", "index positions", _count(model.index_position)),
        ("embeddings", "time-bucket positions", _count(model.time_position)),
        ("embeddings", "other features", _count(model.other)),
        ("encoder", "attention: Q, K, V projections",
         sum(_count(b.attention.qkv) for b in model.blocks)),
        ("encoder", "attention: output projection", sum(_count(b.attention.out) for b in model.blocks)),
        ("encoder", "feed-forward", sum(_count(b.ffn) for b in model.blocks)),
        ("encoder", "norms", sum(_count(b.norm1) + _count(b.norm2) for b in model.blocks)),
        ("head", "MLP", _count(model.head)),
    ]
    df = pd.DataFrame(rows, columns=["group", "part", "parameters"])
    assert df["parameters"].sum() == _count(model), "parameter_table misses a module"
    df["share %"] = (100 * df["parameters"] / df["parameters"].sum()).round(1)
    return df.set_index(["group", "part"])


def plot_training_curves(histories: dict[str, list[dict]], references: dict[str, float] | None = None,
                         ax=None):
    """Validation AUC per epoch for each model (``TrainResult.history``), with horizontal lines for
    reference AUCs (e.g. the order-blind ceiling and the Bayes AUC)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.2))
    for name, history in histories.items():
        ax.plot([h["epoch"] for h in history], [h["val_auc"] for h in history], marker="o", ms=3,
                label=name)
    styles = iter([":", "--", "-."])
    for name, value in (references or {}).items():
        ax.axhline(value, color="0.4", ls=next(styles), lw=1)
        ax.text(0.99, value, f"{name} {value:.3f}", transform=ax.get_yaxis_transform(),
                ha="right", va="bottom", fontsize=8, color="0.3")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("validation AUC")
    ax.legend(loc="center right")
    ax.grid(alpha=0.3)
    return ax
