"""Steering hooks and the ``repe/`` provider on a tiny random model (CPU)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from inspect_ai.model import ChatMessageUser, GenerateConfig, get_model

from refusal_evals.repe.context import honesty_coeff
from refusal_evals.repe.provider import format_layers, parse_layers
from refusal_evals.repe.steering import LayerHooks, decoder_layers, generated_lengths, steering_vectors

STATEMENTS = "statement,label\n" + "".join(
    f"{s},1\n"
    for s in [
        "The capital of France is Paris.",
        "Water boils at 100 degrees Celsius at sea level.",
        "Bees make honey from the nectar of flowers.",
        "A triangle has three sides and three angles.",
        "The Moon orbits the Earth about once a month.",
        "Ice floats on liquid water.",
    ]
)
PROMPTS = ["hello there", "Please explain your reasoning.", "What is the capital of Japan?"]


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fakes.tiny_hf import build_tiny_chat_model

    return build_tiny_chat_model(tmp_path_factory.mktemp("tiny") / "m", num_layers=4, hidden_size=32)


@pytest.fixture(scope="module")
def statements(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("st") / "statements.csv"
    p.write_text(STATEMENTS, encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def raw_model(tiny_path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_path)
    model.eval()
    return model, AutoTokenizer.from_pretrained(tiny_path)


def repe_model(tiny_path: Path, statements: Path, cache: Path, **args):
    return get_model(
        f"repe/{tiny_path}",
        device="cpu",
        statements=str(statements),
        truncations=2,
        direction_cache=str(cache),
        memoize=False,
        config=GenerateConfig(max_tokens=6, temperature=0),
        **args,
    )


def generate_all(model, prompts=PROMPTS):
    async def run():
        return await asyncio.gather(*(model.generate([ChatMessageUser(content=p)]) for p in prompts))

    return asyncio.run(run())


# --------------------------------------------------------------------------- hooks


def unit_directions(n_layers: int, hidden: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(n_layers, hidden, generator=g)
    return d / d.norm(dim=1, keepdim=True)


def layer_outputs(model, input_ids, hooks: LayerHooks | None = None) -> list[torch.Tensor]:
    """Every decoder layer's full output, as the next layer receives it (after any steering)."""
    layers = decoder_layers(model)
    seen: list[torch.Tensor] = []
    handles = []
    try:
        if hooks is not None:
            hooks.__enter__()
        for layer in layers:  # registered after the steering hooks: they see the steered output
            handles.append(
                layer.register_forward_hook(
                    lambda m, a, o: seen.append((o[0] if isinstance(o, tuple) else o).clone())
                )
            )
        with torch.no_grad():
            model(input_ids=input_ids)
    finally:
        for h in handles:
            h.remove()
        if hooks is not None:
            hooks.__exit__(None, None, None)
    return seen


def test_steering_adds_exactly_coeff_times_direction_at_chosen_layers_only(raw_model) -> None:
    model, tok = raw_model
    layers = decoder_layers(model)
    d = unit_directions(len(layers), 32)
    ids = tok("The capital of France is", return_tensors="pt")["input_ids"]
    coeff, chosen = 2.5, [1, 2]

    before: dict[int, torch.Tensor] = {}
    pre = [  # registered first (prepend): the layer's own output, before our addition
        layers[i].register_forward_hook(
            lambda m, a, o, i=i: before.__setitem__(i, (o[0] if isinstance(o, tuple) else o).clone()),
            prepend=True,
        )
        for i in range(len(layers))
    ]
    try:
        after = layer_outputs(model, ids, LayerHooks(layers, chosen, add=steering_vectors(d, chosen, coeff)))
    finally:
        for h in pre:
            h.remove()
    for i in range(len(layers)):
        added = after[i] - before[i]
        expected = coeff * d[i] if i in chosen else torch.zeros(32)
        assert torch.allclose(added, expected.expand_as(added), atol=1e-5), f"layer {i}"


def test_steering_one_layer_leaves_earlier_layers_and_shifts_that_layer(raw_model) -> None:
    model, tok = raw_model
    layers = decoder_layers(model)
    d = unit_directions(len(layers), 32, seed=1)
    ids = tok("Bees make honey", return_tensors="pt")["input_ids"]
    plain = layer_outputs(model, ids)
    steered = layer_outputs(model, ids, LayerHooks(layers, [1], add=steering_vectors(d, [1], -3.0)))
    assert torch.equal(plain[0], steered[0])  # before the steered layer: untouched
    assert torch.allclose(steered[1] - plain[1], (-3.0 * d[1]).expand_as(plain[1]), atol=1e-5)
    assert not torch.allclose(steered[2], plain[2], atol=1e-3)  # later layers see the steered input
    # hooks are removed on exit: the model is plain again
    assert all(torch.equal(a, b) for a, b in zip(layer_outputs(model, ids), plain, strict=True))


def test_coeff_zero_adds_nothing() -> None:
    assert steering_vectors(unit_directions(2, 4), [0, 1], 0.0) is None


def test_generated_lengths_stop_at_first_eos() -> None:
    gen = torch.tensor([[5, 6, 9, 9], [5, 6, 7, 8], [9, 9, 9, 9]])
    assert generated_lengths(gen, [9]).tolist() == [3, 4, 1]


def test_parse_and_format_layers() -> None:
    assert parse_layers("10-12", 32) == [10, 11, 12]
    assert parse_layers("8-9,20", 32) == [8, 9, 20]
    assert parse_layers(5, 32) == [5]
    assert parse_layers([3, "7-8"], 32) == [3, 7, 8]
    assert format_layers([3, 4, 5, 9, 11, 12]) == "3-5,9,11-12"
    for bad, msg in [
        ("40", "out of range"),
        ("12-10", "backwards"),
        ("a-b", "cannot read"),
        ("", "no layer"),
    ]:
        with pytest.raises(ValueError, match=msg):
            parse_layers(bad, 32)


# --------------------------------------------------------------------------- provider


def test_provider_coeff_zero_reproduces_hf_greedy(tiny_path: Path, statements: Path, tmp_path: Path) -> None:
    hf = get_model(
        f"hf/{tiny_path}", device="cpu", do_sample=False, memoize=False, config=GenerateConfig(max_tokens=6)
    )
    plain = [o.completion for o in generate_all(hf)]
    repe = repe_model(tiny_path, statements, tmp_path)
    zero = generate_all(repe)
    assert [o.completion for o in zero] == plain
    for o in zero:
        h = o.metadata["honesty"]
        assert h["coeff"] == 0.0 and h["layers"] == repe.api.layers_text and 1 <= h["tokens"] <= 6
        assert isinstance(h["score"], float) and len(h["by_layer"]) == len(repe.api.layers)
        assert o.message.metadata["honesty"] == h

    loud = repe_model(tiny_path, statements, tmp_path, honesty_coeff=200, layers="0-3")
    steered = generate_all(loud)
    assert [o.completion for o in steered] != plain
    assert all(o.metadata["honesty"]["coeff"] == 200.0 for o in steered)


def test_honesty_score_is_mean_projection_over_generated_tokens(
    tiny_path: Path, statements: Path, raw_model, tmp_path: Path
) -> None:
    """Recompute the provider's read-out with one full forward pass over prompt + reply (no cache)."""
    model, tok = raw_model
    coeff = 1.5
    repe = repe_model(tiny_path, statements, tmp_path, honesty_coeff=coeff, layers="1-2")
    api = repe.api
    prompt = api.hf_chat([ChatMessageUser(content="What is the capital of Japan?")], [])
    enc = tok(prompt, return_tensors="pt")
    with torch.inference_mode():
        out = api._steered_generate(
            enc["input_ids"],
            enc["attention_mask"],
            honesty_coeff=coeff,
            max_new_tokens=6,
            do_sample=False,
            return_dict_in_generate=True,
        )
    packed = out.hidden_states[0][0][0].tolist()  # [mean, tokens, layer 1, layer 2]
    generated = out.sequences[0, enc["input_ids"].shape[1] :]
    n = int(packed[1])
    assert n == int(generated_lengths(generated[None], api._stop_ids)[0]) and 1 <= n <= 6

    d = torch.from_numpy(api.direction.directions)
    layers = decoder_layers(model)
    states: dict[int, torch.Tensor] = {}
    hooks = [  # prepended: the layer's own output, before the steering hook adds to it
        layers[i].register_forward_hook(
            lambda m, a, o, i=i: states.__setitem__(i, (o[0] if isinstance(o, tuple) else o)[0].clone()),
            prepend=True,
        )
        for i in (1, 2)
    ]
    try:
        with LayerHooks(layers, [1, 2], add=steering_vectors(d, [1, 2], coeff)), torch.no_grad():
            model(input_ids=out.sequences)
    finally:
        for h in hooks:
            h.remove()
    start = enc["input_ids"].shape[1] - 1  # the state that predicted the first reply token
    expected = [
        float((states[layer][start : start + n] @ d[layer] - float(api.direction.centers[layer])).mean())
        for layer in (1, 2)
    ]
    assert packed[2:] == pytest.approx(expected, abs=1e-4)
    assert packed[0] == pytest.approx(np.mean(expected), abs=1e-4)
    assert not any(layer._forward_hooks for layer in layers)


def test_provider_uses_cache_and_default_layers(tiny_path: Path, statements: Path, tmp_path: Path) -> None:
    first = repe_model(tiny_path, statements, tmp_path)
    assert not first.api.direction_from_cache
    second = repe_model(tiny_path, statements, tmp_path)
    assert second.api.direction_from_cache and second.api.layers == first.api.direction.default_layers()
    summary = second.api.direction_summary()
    assert summary["from_cache"] and len(summary["heldout_accuracy"]) == 4
    # a saved direction can be passed by path
    third = repe_model(tiny_path, statements, tmp_path, direction=summary["file"], layers="2")
    assert third.api.layers == [2]


def test_context_coefficient_only_for_the_model_under_test(
    tiny_path: Path, statements: Path, tmp_path: Path
) -> None:
    repe = repe_model(tiny_path, statements, tmp_path, honesty_coeff=1.0)
    assert repe.api.coefficient() == 1.0
    with honesty_coeff(8.0, repe.api):
        assert repe.api.coefficient() == 8.0  # the sample's value, for the model under test
    with honesty_coeff(8.0, object()):
        assert repe.api.coefficient() == 1.0  # set for another model (e.g. this one is a grader)
    assert repe.api.coefficient() == 1.0


@pytest.mark.parametrize(
    "args, message",
    [
        ({"honesty_coeff": "strong"}, "-M honesty_coeff: expected a number"),
        ({"layers": "2-9"}, "-M layers: '2-9' is out of range; layers are numbered 0-3"),
        ({"truncations": 0}, "-M truncations: must be at least 1"),
        ({"hidden_states": True}, "-M hidden_states: not supported"),
        ({"statements": "/nonexistent.csv"}, "statements file not found"),
    ],
)
def test_bad_model_args(tiny_path: Path, tmp_path: Path, args: dict, message: str) -> None:
    full = {"statements": str(tmp_path / "s.csv"), **args}
    (tmp_path / "s.csv").write_text(STATEMENTS, encoding="utf-8")
    with pytest.raises(Exception, match=message.replace("(", r"\(")):
        get_model(f"repe/{tiny_path}", device="cpu", direction_cache=str(tmp_path), memoize=False, **full)


def test_model_string_resolves_through_the_entry_point(
    tiny_path: Path, statements: Path, tmp_path: Path
) -> None:
    """A fresh interpreter that never imports refusal_evals: Inspect finds ``repe/`` by itself."""
    code = f"""
import asyncio, sys
from inspect_ai.model import get_model, GenerateConfig
m = get_model("repe/{tiny_path}", device="cpu", statements="{statements}", truncations=1,
              direction_cache="{tmp_path}", honesty_coeff=2, config=GenerateConfig(max_tokens=3))
assert type(m.api).__name__ == "SteeredHuggingFaceAPI", type(m.api)
assert str(m) == "repe/{tiny_path}", str(m)
out = asyncio.run(m.generate("hi"))
assert out.metadata["honesty"]["coeff"] == 2.0
print("ok")
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]
