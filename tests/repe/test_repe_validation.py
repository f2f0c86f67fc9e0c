"""Issue 17: the honesty direction's checks ((a) statements AUROC, (b) own-lies AUROC, the steering
check curve), padding-aware batching, and an opt-in real-model check (``REFUSAL_EVALS_REAL_MODEL``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from refusal_evals.core.files import DataFileError
from refusal_evals.repe.facts import Fact, load_facts
from refusal_evals.repe.validation import auroc, by_length, selection_scores

STATEMENTS = "statement,label\n" + "".join(
    f"{s},{label}\n"
    for s, label in [
        ("The capital of France is Paris.", 1),
        ("The capital of France is Lyon.", 0),
        ("Water boils at 100 degrees Celsius at sea level.", 1),
        ("Water boils at 20 degrees Celsius at sea level.", 0),
        ("Bees make honey from the nectar of flowers.", 1),
        ("Spiders make honey.", 0),
        ("A triangle has three sides.", 1),
        ("A triangle has five sides.", 0),
        ("Ice floats on liquid water.", 1),
        ("Ice sinks in liquid water.", 0),
    ]
)
FACTS = (
    "question,answer\nWhat colour is grass?,green\nWhat is two plus two?,four|4\nWhat do bees make?,honey\n"
)


def test_auroc() -> None:
    pos = np.array([[3.0, 0.0], [4.0, 1.0]])
    neg = np.array([[1.0, 5.0], [2.0, 1.0]])
    out = auroc(pos, neg)
    assert out[0] == 1.0  # every positive above every negative
    assert out[1] == pytest.approx((0 + 0 + 0 + 0.5) / 4)  # one tie, no win
    assert auroc(neg, pos)[0] == 0.0
    assert np.isnan(auroc(np.zeros((0, 2)), neg)).all()


def test_selection_scores_and_length_batches() -> None:
    assert selection_scores([0.9, np.nan], [0.7, 0.6]).tolist() == pytest.approx([0.8, 0.6])
    assert selection_scores([np.nan], [np.nan]) is None
    batches = by_length(5, [5, 1, 4, 2, 3], 2)
    assert batches == [[1, 3], [4, 2], [0]]


def test_facts(tmp_path: Path) -> None:
    fact = Fact("What is two plus two?", ("four", "4"))
    assert fact.stated_in("It is 4.") and fact.stated_in("Four!") and not fact.stated_in("fourteen, 44")
    assert len(load_facts()) == 40  # built-in
    bad = tmp_path / "f.csv"
    bad.write_text("question,answer\nWhat colour is grass?,\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"f\.csv: row 2, field 'answer': empty"):
        load_facts(bad)
    bad.write_text("question,reply\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="missing column.*answer"):
        load_facts(bad)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    from fakes.tiny_hf import build_tiny_chat_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = tmp_path_factory.mktemp("tiny")
    path = build_tiny_chat_model(root / "m", num_layers=4, hidden_size=32)
    model = AutoModelForCausalLM.from_pretrained(path)
    model.eval()
    (root / "s.csv").write_text(STATEMENTS, encoding="utf-8")
    (root / "f.csv").write_text(FACTS, encoding="utf-8")
    return model, AutoTokenizer.from_pretrained(path), root


def reader(tiny, batch_size: int):
    from refusal_evals.repe.steering import decoder_layers
    from refusal_evals.repe.validation import Reader

    model, tok, _ = tiny
    return Reader(
        model, tok, decoder_layers(model), tok.pad_token_id, next(model.parameters()).device, batch_size
    )


def test_batched_and_unbatched_readouts_agree(tiny) -> None:
    import torch

    _, tok, _ = tiny
    seqs = [tok(t)["input_ids"] for t in ["hello there", "The capital of France is Paris.", "yes no", "0123"]]
    spans = [(1, len(s)) for s in seqs]
    directions = torch.nn.functional.normalize(
        torch.randn(4, 32, generator=torch.Generator().manual_seed(0)), dim=1
    )
    with torch.inference_mode():
        one = reader(tiny, 1).span_readouts(seqs, spans, directions)
        many = reader(tiny, 3).span_readouts(seqs, spans, directions)
        replies_one = reader(tiny, 1).generate(seqs, None, 5)
        replies_many = reader(tiny, 4).generate(seqs, None, 5)
    assert np.allclose(one, many, atol=1e-4) and not np.isnan(one).any()
    assert replies_one == replies_many


def test_direction_records_checks_and_curve(tiny, tmp_path: Path) -> None:
    from refusal_evals.repe.direction import DirectionSettings, direction_table, read_direction

    model, tok, root = tiny
    settings = DirectionSettings(
        statements=str(root / "s.csv"), facts=str(root / "f.csv"), truncations=2, batch_size=3,
        check_coeffs=(-2.0, 0.0, 2.0), check_tokens=4,
    )  # fmt: skip
    fit = read_direction(model, tok, settings, progress=False)
    again = read_direction(
        model, tok, DirectionSettings(**{**settings.__dict__, "batch_size": 16}), progress=False
    )
    a, b = fit.checks()
    assert a.shape == (4,) and b.shape == (4,) and not np.isnan(a).any()
    assert np.allclose(a, again.checks()[0], atol=1e-6)  # batch size changes nothing
    check = fit.info["steering_check"]
    assert check["coeffs"] == [-2.0, 0.0, 2.0] and check["n"] == 3
    assert check == again.info["steering_check"]  # deterministic
    assert all(0 <= s <= 1 for s in check["true_share"])
    assert fit.info["statement_check"] == {"true": 1, "false": 1}
    summary = fit.summary()
    assert "fitting check" in summary["pair_accuracy_is"] and len(summary["statement_auroc"]) == 4
    assert fit.default_layers() == again.default_layers()
    assert "(a) true/false statements AUROC" in direction_table(fit) and "coeff +2" in direction_table(fit)
    back = type(fit).load(fit.save(tmp_path / "d"))
    assert np.allclose(back.checks()[0], a, equal_nan=True)


@pytest.mark.skipif(not os.environ.get("REFUSAL_EVALS_REAL_MODEL"), reason="set REFUSAL_EVALS_REAL_MODEL")
def test_real_model_direction_means_something() -> None:  # pragma: no cover - opt-in, minutes on a CPU
    """Opt-in: ``REFUSAL_EVALS_REAL_MODEL=/path/to/smollm2`` (see benchmarks/repe_direction.py)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import repe_direction

    result = repe_direction.main([os.environ["REFUSAL_EVALS_REAL_MODEL"], "--max-train-pairs", "128",
                                  "--check-facts", "20"])  # fmt: skip
    assert result == 0
