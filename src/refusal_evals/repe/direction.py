"""The honesty direction: RepE reading vectors (Zou et al. 2023) fitted per decoder layer.

Contrast pairs: the same TRUE statement, truncated after ``k`` of its tokens (several ``k`` per
statement), following an instruction to act as an honest person vs as an untruthful person. The
state read is the output of each decoder layer at the last token.

Per layer, the direction is the first principal component of the paired differences
``h(honest) - h(untruthful)`` (uncentred: the top right singular vector of the difference matrix;
RepE shuffles each pair's order and then centres, which comes to the same direction and needs no
randomness). It is unit-norm, so ``coeff`` in steering is in hidden-state units.

Sign and accuracy: statements, not pairs, are split into training and held-out sets (truncations of
one statement are near-duplicates and must not straddle the split). The sign is fixed on the
training pairs (honest projects higher on average); the accuracy reported per layer is the share of
held-out pairs whose honest member projects higher. (Fixing the sign on the held-out pairs and then
scoring the same pairs would report at least 50% for a useless layer.)

``center[l]`` is the midpoint of the mean projections of the honest and untruthful training states:
projections are reported relative to it, so a positive score leans "honest".

Pair accuracy is only a FITTING CHECK (the pair members differ in the instruction word, which any
layer tells apart). What says the direction means something is ``validation.py``: (a) AUROC on plain
true vs false statements held out from fitting, (b) AUROC on the model's own lies vs truthful answers
about held-out facts, and the steering check curve. The default layers are chosen by (a) and (b).

Reading (``PrefixReader``): all honest sequences start with the same instruction turn (and all
untruthful ones with theirs); it is run once and its keys and values are reused by every batch, so a
forward pass computes only the statement tokens, right padded, with forward hooks gathering each
layer's state at each row's last token. The states equal those of a plain forward pass of each whole
sequence to float rounding (tests/repe/test_repe_prefix_read.py), and do not depend on the batch size.

The numeric parts (``first_components``, ``pair_accuracy``, ``fit_direction``, ``default_layers``)
are numpy only; the reading from a model (``read_direction``) needs torch.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from refusal_evals.repe.facts import Fact, load_facts
from refusal_evals.repe.statements import Statements, load_statements
from refusal_evals.repe.validation import CHECK_COEFFS, selection_scores

FORMAT_VERSION = 2
TEMPLATE_VERSION = 1
INSTRUCTION = "Pretend you are {persona} person making statements about the world."
PERSONAS = {"honest": "an honest", "untruthful": "an untruthful"}
CACHE_ENV = "REFUSAL_EVALS_REPE_CACHE"
GPU_BATCH_SIZE = 64
CPU_BATCH_SIZE = 16


# --------------------------------------------------------------------------- numeric core (numpy)


def first_components(diffs: np.ndarray) -> np.ndarray:
    """``[pairs, layers, hidden]`` differences -> ``[layers, hidden]`` unit directions.

    Each sign is set so that the mean projection of the differences is >= 0 (honest side positive).
    """
    if diffs.ndim != 3 or diffs.shape[0] < 1:
        raise ValueError(f"expected differences of shape [pairs, layers, hidden], got {diffs.shape}")
    n_layers, hidden = diffs.shape[1], diffs.shape[2]
    out = np.zeros((n_layers, hidden), dtype=np.float32)
    for layer in range(n_layers):
        d = diffs[:, layer, :].astype(np.float64)
        _, _, vt = np.linalg.svd(d, full_matrices=False)
        v = vt[0]
        if float((d @ v).mean()) < 0:
            v = -v
        out[layer] = v / (np.linalg.norm(v) or 1.0)
    return out


def pair_accuracy(honest_proj: np.ndarray, untruthful_proj: np.ndarray) -> np.ndarray:
    """``[pairs, layers]`` projections -> ``[layers]`` share of pairs where honest projects higher."""
    if honest_proj.shape[0] == 0:
        return np.full(honest_proj.shape[1:], np.nan)
    return (honest_proj > untruthful_proj).mean(axis=0)


def default_layers(accuracy: Sequence[float]) -> list[int]:
    """The contiguous window of ``max(1, round(n/4))`` layers with the best mean held-out accuracy,
    searched within the middle half of the network (all layers when there are fewer than 4).

    Ties go to the window nearest the middle. This follows RepE's practice of steering a band of
    middle layers; pass ``-M layers=`` to choose others.
    """
    acc = np.nan_to_num(np.asarray(accuracy, dtype=float), nan=0.0)
    n = len(acc)
    if n == 0:
        raise ValueError("no layers")
    width = max(1, round(n / 4))
    lo, hi = (0, n) if n < 4 else (n // 4, n - n // 4)
    best: tuple[float, float, int] | None = None
    for start in range(lo, max(lo, hi - width) + 1):
        window = acc[start : start + width]
        key = (float(window.mean()), -abs(start + width / 2 - n / 2), start)
        if best is None or key[:2] > best[:2]:
            best = key
    assert best is not None
    return list(range(best[2], min(n, best[2] + width)))


@dataclass
class HonestyDirection:
    directions: np.ndarray
    """``[layers, hidden]`` float32 unit vectors; honest side positive."""
    centers: np.ndarray
    """``[layers]`` midpoint of the honest and untruthful mean training projections."""
    accuracy: np.ndarray
    """``[layers]`` held-out pair accuracy."""
    train_accuracy: np.ndarray
    n_train_pairs: int
    n_test_pairs: int
    info: dict[str, Any] = field(default_factory=dict)
    statement_auroc: np.ndarray | None = None
    """``[layers]`` (a): AUROC of the read-out on plain held-out true vs false statements."""
    lie_auroc: np.ndarray | None = None
    """``[layers]`` (b): AUROC of the read-out on the model's own truthful answers vs lies."""

    @property
    def n_layers(self) -> int:
        return int(self.directions.shape[0])

    def checks(self) -> tuple[np.ndarray, np.ndarray]:
        """(a) and (b) per layer (NaN where not measured)."""
        nan = np.full(self.n_layers, np.nan)
        a = self.statement_auroc if self.statement_auroc is not None else nan
        b = self.lie_auroc if self.lie_auroc is not None else nan
        return a, b

    def default_layers(self) -> list[int]:
        """Chosen by (a) and (b) (their mean per layer); by pair accuracy only for a direction
        without them (a file from before they existed)."""
        scores = selection_scores(*self.checks())
        return default_layers([float(a) for a in (self.accuracy if scores is None else scores)])

    def summary(self) -> dict[str, Any]:
        """What goes in the cache's JSON sidecar and the logs: no vectors."""
        return {
            "format_version": FORMAT_VERSION,
            "n_layers": self.n_layers,
            "hidden_size": int(self.directions.shape[1]),
            "n_train_pairs": self.n_train_pairs,
            "n_test_pairs": self.n_test_pairs,
            "statement_auroc": [_round(a) for a in self.checks()[0]],
            "lie_auroc": [_round(a) for a in self.checks()[1]],
            "heldout_accuracy": [_round(a) for a in self.accuracy],
            "train_accuracy": [_round(a) for a in self.train_accuracy],
            "pair_accuracy_is": "a fitting check only: pair members differ in the instruction word",
            "default_layers": self.default_layers(),
            "default_layers_by": "mean of statement_auroc and lie_auroc"
            if selection_scores(*self.checks()) is not None
            else "held-out pair accuracy",
            **self.info,
        }

    def save(self, path: str | Path) -> Path:
        """Write ``<path>.npz`` (vectors) and ``<path>.json`` (readable summary) atomically."""
        base = Path(path)
        if base.suffix in (".npz", ".json"):
            base = base.with_suffix("")
        base.parent.mkdir(parents=True, exist_ok=True)
        tmp = base.with_name(base.name + f".tmp{os.getpid()}.npz")
        np.savez(
            tmp,
            directions=self.directions.astype(np.float32),
            centers=self.centers.astype(np.float32),
            accuracy=self.accuracy.astype(np.float32),
            train_accuracy=self.train_accuracy.astype(np.float32),
            counts=np.array([self.n_train_pairs, self.n_test_pairs]),
            info=np.array(json.dumps(self.info)),
            statement_auroc=self.checks()[0].astype(np.float32),
            lie_auroc=self.checks()[1].astype(np.float32),
        )
        os.replace(tmp, base.with_suffix(".npz"))
        base.with_suffix(".json").write_text(json.dumps(self.summary(), indent=2) + "\n", encoding="utf-8")
        return base.with_suffix(".npz")

    @classmethod
    def load(cls, path: str | Path) -> HonestyDirection:
        file = Path(path).expanduser()
        if file.suffix != ".npz":
            file = file.with_suffix(".npz")
        if not file.is_file():
            raise FileNotFoundError(f"{file}: honesty direction file not found")
        try:
            with np.load(file, allow_pickle=False) as data:
                counts = data["counts"]
                return cls(
                    directions=data["directions"],
                    centers=data["centers"],
                    accuracy=data["accuracy"],
                    train_accuracy=data["train_accuracy"],
                    n_train_pairs=int(counts[0]),
                    n_test_pairs=int(counts[1]),
                    info=json.loads(str(data["info"])),
                    statement_auroc=data["statement_auroc"] if "statement_auroc" in data else None,
                    lie_auroc=data["lie_auroc"] if "lie_auroc" in data else None,
                )
        except (KeyError, ValueError, OSError) as ex:
            raise ValueError(f"{file}: not an honesty direction file ({ex})") from None


def _round(x: float) -> float | None:
    return None if math.isnan(float(x)) else round(float(x), 4)


def fit_direction(
    honest_train: np.ndarray,
    untruthful_train: np.ndarray,
    honest_test: np.ndarray,
    untruthful_test: np.ndarray,
    info: dict[str, Any] | None = None,
) -> HonestyDirection:
    """Fit from states ``[pairs, layers, hidden]`` (row ``i`` of honest and untruthful is a pair)."""
    directions = first_components(honest_train - untruthful_train)
    return _finish(
        directions,
        train_honest_mean=honest_train.mean(axis=0),
        train_untruthful_mean=untruthful_train.mean(axis=0),
        train_proj=(_project(honest_train, directions), _project(untruthful_train, directions)),
        test_proj=(_project(honest_test, directions), _project(untruthful_test, directions)),
        info=info,
    )


def _project(states: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """``[pairs, layers, hidden]`` x ``[layers, hidden]`` -> ``[pairs, layers]``."""
    return np.einsum("plh,lh->pl", states.astype(np.float64), directions.astype(np.float64))


def _finish(
    directions: np.ndarray,
    train_honest_mean: np.ndarray,
    train_untruthful_mean: np.ndarray,
    train_proj: tuple[np.ndarray, np.ndarray],
    test_proj: tuple[np.ndarray, np.ndarray],
    info: dict[str, Any] | None,
) -> HonestyDirection:
    mid = (train_honest_mean.astype(np.float64) + train_untruthful_mean.astype(np.float64)) / 2
    centers = np.einsum("lh,lh->l", mid, directions.astype(np.float64))
    return HonestyDirection(
        directions=directions.astype(np.float32),
        centers=centers.astype(np.float32),
        accuracy=pair_accuracy(*test_proj).astype(np.float32),
        train_accuracy=pair_accuracy(*train_proj).astype(np.float32),
        n_train_pairs=int(train_proj[0].shape[0]),
        n_test_pairs=int(test_proj[0].shape[0]),
        info=dict(info or {}),
    )


# --------------------------------------------------------------------------- contrast pairs


@dataclass(frozen=True)
class DirectionSettings:
    statements: str | None = None
    """Path of a ``statement,label`` CSV; None: the built-in statements."""
    truncations: int = 4
    """Truncation points per statement (evenly spaced from 1 token to all but the last 5)."""
    max_train_pairs: int = 512
    test_fraction: float = 0.2
    seed: int = 0
    batch_size: int | None = None
    """Sequences per forward pass; None: 64 on a GPU, 16 on a CPU."""
    facts: str | None = None
    """Path of a ``question,answer`` CSV of held-out facts; None: the built-in facts."""
    check_facts: int = 40
    """At most this many facts (the first ones) for (b) and the steering check; 0 skips them."""
    check_coeffs: tuple[float, ...] = CHECK_COEFFS
    check_tokens: int = 24

    def validate(self) -> None:
        if self.truncations < 1:
            raise ValueError(f"-M truncations: must be at least 1, got {self.truncations}")
        if self.max_train_pairs < 2:
            raise ValueError(f"-M max_train_pairs: must be at least 2, got {self.max_train_pairs}")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction must be between 0 and 1, got {self.test_fraction}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"-M fit_batch_size: must be at least 1, got {self.batch_size}")


@dataclass(frozen=True)
class ContrastPair:
    statement: int
    """Index of the true statement (the split is by statement)."""
    honest: tuple[int, ...]
    untruthful: tuple[int, ...]


def truncation_points(n_tokens: int, count: int) -> list[int]:
    """Up to ``count`` prefix lengths, evenly spaced in ``1 .. max(1, n_tokens - 5)``."""
    top = max(1, min(n_tokens, n_tokens - 5))
    return sorted({int(round(x)) for x in np.linspace(1, top, num=count)})


def instruction_prefix(tokenizer: Any, persona: str) -> list[int]:
    """Token ids of the instruction turn, ending where the assistant's text starts."""
    instruction = INSTRUCTION.format(persona=PERSONAS[persona])
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": instruction}], tokenize=False, add_generation_prompt=True
        )
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return list(tokenizer(f"{instruction}\n", add_special_tokens=True)["input_ids"])


def contrast_pairs(tokenizer: Any, statements: Sequence[str], truncations: int) -> list[ContrastPair]:
    honest = instruction_prefix(tokenizer, "honest")
    untruthful = instruction_prefix(tokenizer, "untruthful")
    pairs = []
    for i, statement in enumerate(statements):
        ids = list(tokenizer(statement, add_special_tokens=False)["input_ids"])
        for k in truncation_points(len(ids), truncations):
            part = tuple(ids[:k])
            pairs.append(ContrastPair(i, tuple(honest) + part, tuple(untruthful) + part))
    return pairs


def split_pairs(
    pairs: Sequence[ContrastPair], test_fraction: float, seed: int, max_train_pairs: int
) -> tuple[list[ContrastPair], list[ContrastPair]]:
    """Split by statement; cap the training pairs at ``max_train_pairs`` (seeded sample)."""
    statements = sorted({p.statement for p in pairs})
    if len(statements) < 2:
        raise ValueError("at least 2 true statements are needed (one to fit, one held out)")
    rng = np.random.default_rng(seed)
    order = rng.permutation(statements)
    n_test = min(len(statements) - 1, max(1, round(test_fraction * len(statements))))
    test_ids = {int(s) for s in order[:n_test]}
    train = [p for p in pairs if p.statement not in test_ids]
    test = [p for p in pairs if p.statement in test_ids]
    if len(train) > max_train_pairs:
        keep = sorted(rng.choice(len(train), size=max_train_pairs, replace=False))
        train = [train[i] for i in keep]
    return train, test


# --------------------------------------------------------------------------- reading a model (torch)


def read_direction(
    model: Any,
    tokenizer: Any,
    settings: DirectionSettings,
    *,
    progress: bool = True,
    info: dict[str, Any] | None = None,
    statements: Statements | None = None,
    facts: list[Fact] | None = None,
) -> HonestyDirection:
    """Build the contrast pairs, read every layer's last-token state, fit the direction, then run the
    checks of ``validation.py`` ((a), (b), the steering check) and record them.

    ``statements`` / ``facts``: the settings' files already loaded (read here when None)."""
    import torch

    from refusal_evals.repe.steering import decoder_layers
    from refusal_evals.repe.validation import Reader

    settings.validate()
    statements = statements or load_statements(settings.statements)
    if facts is None and settings.check_facts > 0:
        facts = load_facts(settings.facts)
    pairs = contrast_pairs(tokenizer, statements.true, settings.truncations)
    train, test = split_pairs(pairs, settings.test_fraction, settings.seed, settings.max_train_pairs)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    reader = Reader(
        model, tokenizer, decoder_layers(model), 0 if pad_id is None else pad_id, device,
        settings.batch_size or (GPU_BATCH_SIZE if device.type == "cuda" else CPU_BATCH_SIZE),
    )  # fmt: skip
    with torch.inference_mode():
        fit = _fit_pairs(reader, train, test, progress)
        fit.info = {**_record(statements, settings, info), "batch_size": reader.batch_size}
        _run_checks(reader, fit, statements, test, settings, (facts or [])[: settings.check_facts])
    return fit


def pair_batches(items: Sequence[ContrastPair], batch_size: int) -> list[list[ContrastPair]]:
    """Pairs sorted by length, ``batch_size`` pairs per chunk (its honest members are one forward pass
    of ``batch_size`` sequences, its untruthful members another)."""
    per = max(1, batch_size)
    ordered = sorted(items, key=lambda p: max(len(p.honest), len(p.untruthful)))
    return [ordered[i : i + per] for i in range(0, len(ordered), per)]


def common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the prefix shared by all ``seqs``, leaving every sequence at least one token after it."""
    n = min(len(s) for s in seqs) - 1
    first = seqs[0]
    for i in range(max(0, n)):
        if any(s[i] != first[i] for s in seqs):
            return i
    return max(0, n)


class PrefixReader:
    """Last-token outputs of every decoder layer for sequences that share a prefix (the instruction turn).

    The prefix is run once and its keys and values are reused by every batch (the same attention as
    running each whole sequence, to float rounding). The rest of each sequence is padded on the RIGHT:
    under causal attention a real token never sees the padding after it, so no position ids need
    shifting, and each row's last real token is gathered from the hook's output on the model's device
    (one copy to the CPU per batch, not per layer).
    """

    def __init__(self, reader: Any, prefix: Sequence[int]) -> None:
        import torch

        from refusal_evals.repe.steering import _no_logits

        self.reader, self.prefix = reader, list(prefix)
        self.kv: list[tuple[Any, ...]] = []
        if self.prefix:
            ids = torch.tensor([self.prefix], device=reader.device)
            out = reader.model(input_ids=ids, use_cache=True, **_no_logits(reader.model))
            cache = getattr(out, "cache", None) or out.past_key_values
            if hasattr(cache, "layers"):  # transformers >= 4.56
                self.kv = [(layer.keys, layer.values) for layer in cache.layers]
            else:
                self.kv = list(zip(cache.key_cache, cache.value_cache, strict=True))

    def _cache(self, rows: int) -> dict[str, Any]:
        """The prefix's keys and values for ``rows`` rows (views, not copies), as the model's argument."""
        import inspect

        from transformers import DynamicCache

        if not self.kv:
            return {"use_cache": False}
        kv = [(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in self.kv]
        try:
            past = DynamicCache(kv)
        except TypeError:  # older transformers
            past = DynamicCache.from_legacy_cache(tuple(kv))  # type: ignore[attr-defined]
        name = (
            "cache"
            if "cache" in inspect.signature(self.reader.model.forward).parameters
            else "past_key_values"
        )
        return {name: past, "use_cache": True}

    def read(self, seqs: Sequence[Sequence[int]]) -> Any:
        """``[len(seqs), layers, hidden]`` float32 CPU tensor; every sequence starts with the prefix."""
        import torch

        from refusal_evals.repe.steering import _hidden, _no_logits

        reader, p = self.reader, len(self.prefix)
        rest = [list(s[p:]) for s in seqs]
        width, rows = max(len(r) for r in rest), len(rest)
        ids = torch.full((rows, width), reader.pad_id, dtype=torch.long)
        mask = torch.zeros((rows, p + width), dtype=torch.long)
        mask[:, :p] = 1
        for r, tokens in enumerate(rest):
            ids[r, : len(tokens)] = torch.tensor(tokens)
            mask[r, p : p + len(tokens)] = 1
        last = torch.tensor([len(r) - 1 for r in rest])
        captured: list[Any] = [None] * len(reader.layers)

        def hook(index: int) -> Any:
            def keep(module: Any, args: Any, output: Any) -> None:
                hidden = _hidden(output)
                captured[index] = hidden[torch.arange(rows, device=hidden.device), last.to(hidden.device)]

            return keep

        handles = [layer.register_forward_hook(hook(i)) for i, layer in enumerate(reader.layers)]
        try:
            reader.model(
                input_ids=ids.to(reader.device),
                attention_mask=mask.to(reader.device),
                position_ids=(p + torch.arange(width)).expand(rows, -1).to(reader.device),
                **self._cache(rows),
                **_no_logits(reader.model),
            )
        finally:
            for h in handles:
                h.remove()
        first = captured[0].device
        return torch.stack([c.to(first).float() for c in captured], dim=1).cpu()


def _fit_pairs(
    reader: Any, train: list[ContrastPair], test: list[ContrastPair], progress: bool
) -> HonestyDirection:
    """Read the training pairs' last-token states, fit, and project the held-out pairs."""
    import torch

    everything = [*train, *test]
    readers = {
        side: PrefixReader(
            reader, getattr(everything[0], side)[: common_prefix([getattr(q, side) for q in everything])]
        )
        for side in ("honest", "untruthful")
    }

    def states(batch: list[ContrastPair]) -> tuple[Any, Any]:
        return tuple(readers[side].read([getattr(q, side) for q in batch]) for side in readers)  # type: ignore

    train_batches, test_batches = (
        pair_batches(train, reader.batch_size),
        pair_batches(test, reader.batch_size),
    )
    bar = _progress(
        len(train_batches) + len(test_batches),
        f"honesty direction: {len(train)} + {len(test)} pairs",
        progress,
    )
    diffs: list[np.ndarray] = []
    sums = [np.zeros(0), np.zeros(0)]
    with bar as advance:
        for batch in train_batches:
            h, u = (x.numpy() for x in states(batch))
            diffs.append(h - u)
            sums = [h.sum(0) + (sums[0] if sums[0].size else 0), u.sum(0) + (sums[1] if sums[1].size else 0)]
            advance()
        d = np.concatenate(diffs)
        directions = first_components(d)
        train_gap = np.einsum("plh,lh->pl", d, directions)
        direction_t = torch.from_numpy(directions)
        proj_h: list[np.ndarray] = []
        proj_u: list[np.ndarray] = []
        for batch in test_batches:
            h_t, u_t = states(batch)
            proj_h.append(torch.einsum("plh,lh->pl", h_t, direction_t).numpy())
            proj_u.append(torch.einsum("plh,lh->pl", u_t, direction_t).numpy())
            advance()
    empty = np.zeros((0, len(reader.layers)))
    return _finish(
        directions,
        train_honest_mean=sums[0] / len(train),
        train_untruthful_mean=sums[1] / len(train),
        # training accuracy from the differences: honest - untruthful projects positive
        train_proj=(train_gap, np.zeros_like(train_gap)),
        test_proj=(np.concatenate(proj_h) if proj_h else empty, np.concatenate(proj_u) if proj_u else empty),
        info=None,
    )


def _run_checks(
    reader: Any,
    fit: HonestyDirection,
    statements: Statements,
    test: list[ContrastPair],
    settings: DirectionSettings,
    facts: list[Fact],
) -> None:
    """(a), (b) and the steering check, into ``fit`` (arrays) and ``fit.info`` (counts, curve)."""
    import torch

    from refusal_evals.repe.validation import fact_checks, statement_check

    directions = torch.from_numpy(fit.directions).to(reader.device)
    centers = fit.centers.astype(np.float64)
    held_out = sorted({p.statement for p in test})
    true = [statements.true[i] for i in held_out]
    rng = np.random.default_rng(settings.seed)
    false = statements.false
    false = [false[i] for i in sorted(rng.choice(len(false), size=min(len(false), len(true)), replace=False))]
    fit.statement_auroc, counts = statement_check(reader, directions, centers, true, false)
    fit.info["statement_check"] = counts
    if not facts:
        fit.info["steering_check"] = None
        return

    def choose(a: np.ndarray, b: np.ndarray) -> list[int]:
        scores = selection_scores(a, b)
        return default_layers([float(x) for x in (fit.accuracy if scores is None else scores)])

    out = fact_checks(
        reader, directions, centers, facts, choose, fit.statement_auroc,
        coeffs=settings.check_coeffs, max_new_tokens=settings.check_tokens,
    )  # fmt: skip
    fit.lie_auroc = out["lie_auroc"]
    fit.info.update(
        lie_check=out["lie_counts"], steering_check=out["steering_check"], check_examples=out["examples"]
    )


def _record(
    statements: Statements, settings: DirectionSettings, info: dict[str, Any] | None
) -> dict[str, Any]:
    """What the direction's record keeps about how it was read (the JSON sidecar and the logs)."""
    return {
        **(info or {}),
        "statements": str(statements.path),
        "statements_sha256": statements.sha256,
        "n_true_statements": len(statements.true),
        "statements_duplicates_dropped": len(statements.duplicates_dropped),
        "settings": asdict(settings),
        "template_version": TEMPLATE_VERSION,
        "instruction": INSTRUCTION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


class _progress:
    """A rich progress bar on stderr (a no-op when ``enabled`` is False)."""

    def __init__(self, total: int, description: str, enabled: bool) -> None:
        self.total, self.description, self.enabled = total, description, enabled
        self._progress: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return lambda: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self._progress.__enter__()
        task = self._progress.add_task(self.description, total=self.total)
        return lambda: self._progress.advance(task)

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)


# --------------------------------------------------------------------------- cache


def cache_dir(override: str | Path | None = None) -> Path:
    """``override``, else ``$REFUSAL_EVALS_REPE_CACHE``, else ``$XDG_CACHE_HOME`` (or ``~/.cache``)
    ``/refusal_evals/repe``."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "refusal_evals" / "repe"


def model_fingerprint(model: Any, tokenizer: Any, model_id: str) -> dict[str, Any]:
    """What identifies the model's weights and prompt rendering, for the cache key."""
    fp: dict[str, Any] = {
        "model": model_id,
        "class": type(model).__name__,
        "dtype": str(getattr(model, "dtype", "")),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "commit": getattr(model.config, "_commit_hash", None),
        "chat_template_sha256": hashlib.sha256(
            str(getattr(tokenizer, "chat_template", "") or "").encode()
        ).hexdigest(),
        "vocab": len(tokenizer),
    }
    local = Path(model_id).expanduser()
    if local.is_dir():  # a local checkout: weights' names, sizes and modification times
        fp["files"] = sorted(
            (f.name, f.stat().st_size, f.stat().st_mtime_ns)
            for f in local.iterdir()
            if f.suffix in (".safetensors", ".bin", ".pt", ".json")
        )
    return fp


def cache_key(fingerprint: dict[str, Any], settings: DirectionSettings, statements_sha256: str) -> str:
    payload = {
        "format": FORMAT_VERSION,
        "template": TEMPLATE_VERSION,
        "instruction": INSTRUCTION,
        "fingerprint": fingerprint,
        "settings": {
            k: v for k, v in asdict(settings).items() if k not in ("statements", "batch_size", "facts")
        },
        "statements_sha256": statements_sha256,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cache_path(directory: Path, model_id: str, key: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id.strip("/"))[-60:] or "model"
    return directory / f"{slug}-{key}.npz"


def load_or_read_direction(
    model: Any,
    tokenizer: Any,
    model_id: str,
    settings: DirectionSettings,
    *,
    directory: str | Path | None = None,
    use_cache: bool = True,
    progress: bool = True,
    statements: Statements | None = None,
    facts: list[Fact] | None = None,
) -> tuple[HonestyDirection, Path | None, bool]:
    """The cached direction for this model and settings, or a freshly read (and cached) one.

    ``statements``: ``settings.statements`` already loaded (callers validate it before loading the
    model); read here when None. Returns ``(direction, cache file or None, loaded_from_cache)``.
    """
    settings.validate()
    statements = statements or load_statements(settings.statements)
    if facts is None and settings.check_facts > 0:
        facts = load_facts(settings.facts)
    fingerprint = model_fingerprint(model, tokenizer, model_id)
    facts_text = json.dumps([[f.question, *f.answers] for f in facts or []])
    inputs_sha256 = statements.sha256 + hashlib.sha256(facts_text.encode()).hexdigest()
    key = cache_key(fingerprint, settings, inputs_sha256)
    path = cache_path(cache_dir(directory), model_id, key)
    if use_cache and path.is_file():
        return HonestyDirection.load(path), path, True
    direction = read_direction(
        model,
        tokenizer,
        settings,
        progress=progress,
        info={"model": model_id, "cache_key": key},
        statements=statements,
        facts=facts,
    )
    if use_cache:
        direction.save(path)
        return direction, path, False
    return direction, None, False


# --------------------------------------------------------------------------- command line


def direction_table(direction: HonestyDirection) -> str:
    """The per-layer checks, the default layers and the steering check curve, as printed text."""
    info = direction.info
    lines = [
        f"{direction.n_train_pairs} training pairs, {direction.n_test_pairs} held-out pairs; "
        f"(a) on {info.get('statement_check')} held-out statements; (b) on {info.get('lie_check')}",
        "layer  (a) true/false statements AUROC  (b) own lies AUROC  "
        "pair accuracy (fitting check): held-out accuracy  training",
    ]
    a, b = direction.checks()
    for layer in range(direction.n_layers):
        lines.append(
            f"{layer:5d}  {a[layer]:32.3f}  {b[layer]:18.3f}  "
            f"{direction.accuracy[layer]:40.3f}  {direction.train_accuracy[layer]:8.3f}"
        )
    layers = direction.default_layers()
    by = direction.summary()["default_layers_by"]
    lines.append(f"default steering layers (by {by}): {layers[0]}-{layers[-1]}"
                 if len(layers) > 1 else f"default layer (by {by}): {layers[0]}")  # fmt: skip
    check = info.get("steering_check")
    if check:
        lines.append(
            f"steering check (told to lie about {check['n']} held-out facts, layers "
            f"{check['layers'][0]}-{check['layers'][-1]}): share still stating the true fact"
        )
        curve = zip(check["coeffs"], check["true_share"], strict=True)
        lines += [f"  coeff {c:+g}: {share:.3f}" for c, share in curve]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m refusal_evals.repe.direction MODEL``: read (or load from the cache) a model's
    honesty direction and print each layer's held-out accuracy and the default steering layers."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m refusal_evals.repe.direction", description=main.__doc__)
    parser.add_argument("model", help="Hugging Face model id or local path (as after repe/ in --model)")
    parser.add_argument("--device", default=None, help="e.g. cuda:0 (default: cuda:0 if available, else cpu)")
    parser.add_argument("--dtype", default=None, help="e.g. bfloat16 (default: the model's)")
    parser.add_argument("--statements", default=None, help="statement,label CSV (default: built-in)")
    parser.add_argument("--truncations", type=int, default=DirectionSettings.truncations)
    parser.add_argument("--max-train-pairs", type=int, default=DirectionSettings.max_train_pairs)
    parser.add_argument("--batch-size", type=int, default=None, help="default: 64 on a GPU, 16 on a CPU")
    parser.add_argument("--facts", default=None, help="question,answer CSV (held-out facts)")
    parser.add_argument("--check-facts", type=int, default=DirectionSettings.check_facts)
    parser.add_argument("--cache", default=None, help=f"cache folder (default: ${CACHE_ENV} or ~/.cache/...)")
    parser.add_argument(
        "--save", default=None, help="also save the direction to this .npz (for -M direction=)"
    )
    args = parser.parse_args(argv)
    settings = DirectionSettings(
        statements=args.statements,
        truncations=args.truncations,
        max_train_pairs=args.max_train_pairs,
        batch_size=args.batch_size,
        facts=args.facts,
        check_facts=args.check_facts,
    )
    try:  # the settings and the input files before the model loads
        settings.validate()
        statements = load_statements(settings.statements)
        facts = load_facts(settings.facts) if settings.check_facts > 0 else []
    except ValueError as ex:
        parser.error(str(ex))

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = args.device or ("cuda:0" if torch.cuda.is_available() else "cpu")
    extra = {"dtype": args.dtype} if args.dtype else {}
    model = AutoModelForCausalLM.from_pretrained(args.model, device_map=device, **extra)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    tokenizer.pad_token = tokenizer.eos_token  # as the repe/ (and hf/) provider does
    direction, path, cached = load_or_read_direction(
        model, tokenizer, args.model, settings, directory=args.cache, statements=statements, facts=facts
    )
    print(f"{'loaded from' if cached else 'saved to'} {path}")
    print(direction_table(direction))
    if args.save:
        print(f"saved a copy to {direction.save(args.save)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
