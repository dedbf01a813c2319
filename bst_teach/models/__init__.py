"""The three models of the book: the embedding + MLP baseline, DIN and BST."""
from .bst import BST, BSTConfig
from .din import DIN, DINConfig
from .embedding_mlp import EmbeddingMLP, EmbeddingMLPConfig

MODELS = {"wdl": (EmbeddingMLP, EmbeddingMLPConfig), "din": (DIN, DINConfig),
          "bst": (BST, BSTConfig)}


def build_model(name: str, schema, **config):
    """``build_model("bst", schema, blocks=2)`` -> a model whose config overrides the defaults."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {sorted(MODELS)}")
    cls, config_cls = MODELS[name]
    return cls(schema, config_cls(**config))


__all__ = ["BST", "BSTConfig", "DIN", "DINConfig", "EmbeddingMLP", "EmbeddingMLPConfig",
           "MODELS", "build_model"]
