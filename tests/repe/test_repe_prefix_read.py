"""The direction's fast read (issue 17: shared prefix run once, right padding, hooks gathering the last
token) gives the same last-token states as a plain left-padded forward pass of each whole sequence."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch  # noqa: E402

from refusal_evals.repe import direction as d  # noqa: E402
from refusal_evals.repe.steering import LayerHooks, decoder_layers, forward_padded  # noqa: E402
from refusal_evals.repe.validation import Reader  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    from fakes.tiny_hf import build_tiny_chat_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = build_tiny_chat_model(tmp_path_factory.mktemp("tiny") / "m", num_layers=3, hidden_size=32)
    model = AutoModelForCausalLM.from_pretrained(path)
    model.eval()
    return model, AutoTokenizer.from_pretrained(path)


def test_common_prefix() -> None:
    assert d.common_prefix([(1, 2, 3, 4), (1, 2, 5)]) == 2
    assert d.common_prefix([(1, 2, 3), (1, 2, 3, 4)]) == 2  # every sequence keeps a token after it
    assert d.common_prefix([(7,), (8, 9)]) == 0


@pytest.mark.parametrize("side", ["honest", "untruthful"])
def test_prefix_read_matches_a_plain_forward(tiny, side: str) -> None:
    model, tok = tiny
    pairs = d.contrast_pairs(tok, ["Bees make honey.", "A triangle has three sides.", "Ice is cold."], 3)
    seqs = [getattr(p, side) for p in pairs]
    layers = decoder_layers(model)
    reader = Reader(model, tok, layers, tok.pad_token_id or 0, torch.device("cpu"), 4)
    ids = list(range(len(layers)))
    with torch.inference_mode():
        fast = d.PrefixReader(reader, seqs[0][: d.common_prefix(seqs)]).read(seqs)
        hooks = LayerHooks(layers, ids, capture=True)
        forward_padded(model, seqs, hooks, reader.pad_id, reader.device)
    plain = torch.stack([torch.cat(hooks.captured[i]) for i in ids], dim=1)
    assert d.common_prefix(seqs) > 5 and fast.shape == plain.shape == (len(seqs), len(layers), 32)
    assert torch.allclose(fast, plain, atol=1e-5)
    # no shared prefix at all: the same states
    with torch.inference_mode():
        assert torch.allclose(d.PrefixReader(reader, []).read(seqs), plain, atol=1e-5)
