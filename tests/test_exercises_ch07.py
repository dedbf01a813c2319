"""The chapter 7 checkers accept the reference answers and reject typical wrong ones with a
message that says what is wrong."""
import pytest
from torch import nn

from bst_teach.exercises import ExerciseError
from bst_teach.exercises.ch07 import (check_block_params, check_make_encoder, count_parameters,
                                      reference_block_params)
from bst_teach.models import build_model
from bst_teach.models.bst import EncoderBlock


def test_reference_block_params_matches_the_model(small_data):
    for blocks in (1, 2, 3):
        m = build_model("bst", small_data.schema, blocks=blocks)
        assert count_parameters(m.blocks) == blocks * reference_block_params(32)


def test_block_params_accepts_reference():
    assert check_block_params(reference_block_params).startswith("Correct")


@pytest.mark.parametrize("wrong, words", [
    (lambda d, m: reference_block_params(d, m) - 4 * d, "LayerNorm"),
    (lambda d, m: 4 * d * d + 2 * m * d * d, "weight matrices"),
    (lambda d, m: reference_block_params(d, m) - d * d, "D x D"),
])
def test_block_params_rejects_wrong_counts(wrong, words):
    with pytest.raises(ExerciseError, match=words):
        check_block_params.strict(wrong)


class _Encoder(nn.Module):
    def __init__(self, blocks):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def forward(self, s, key_mask):
        for block in self.blocks:
            s, _ = block(s, key_mask)
        return s


class _ReadsInput(_Encoder):
    def forward(self, s, key_mask):
        out = s
        for block in self.blocks:
            out, _ = block(s, key_mask)
        return out


class _NoMask(_Encoder):
    def forward(self, s, key_mask):
        full = key_mask.new_ones(key_mask.shape)
        for block in self.blocks:
            s, _ = block(s, full)
        return s


def _fresh(n, dim, heads):
    return [EncoderBlock(dim, heads, 4, 0.1, "layer") for _ in range(n)]


def test_make_encoder_accepts_reference():
    assert check_make_encoder(lambda n, d, h: _Encoder(_fresh(n, d, h))).startswith("Correct")


def test_make_encoder_rejects_shared_blocks():
    with pytest.raises(ExerciseError, match="shared weights"):
        check_make_encoder.strict(lambda n, d, h: _Encoder(_fresh(1, d, h) * n))


def test_make_encoder_rejects_blocks_reading_the_input():
    with pytest.raises(ExerciseError, match="previous block's output"):
        check_make_encoder.strict(lambda n, d, h: _ReadsInput(_fresh(n, d, h)))


def test_make_encoder_rejects_unmasked_padding():
    with pytest.raises(ExerciseError, match="differs|key_mask"):
        check_make_encoder.strict(lambda n, d, h: _NoMask(_fresh(n, d, h)))


def test_make_encoder_rejects_a_tuple_output():
    class Tuple(_Encoder):
        def forward(self, s, key_mask):
            return super().forward(s, key_mask), None
    with pytest.raises(ExerciseError, match="tuple"):
        check_make_encoder.strict(lambda n, d, h: Tuple(_fresh(n, d, h)))
