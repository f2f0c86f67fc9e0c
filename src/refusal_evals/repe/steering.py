"""Forward hooks on a transformers model's decoder layers: read, project and steer hidden states.

Layer ``i`` (0-based) means the output of decoder layer ``i`` (``hidden_states[i + 1]`` in
transformers' ``output_hidden_states`` numbering; its last entry is usually taken after the final
norm, ours never is, so reading and steering see the same tensor).

Needs the ``hf`` extra (torch); imported only by the ``repe`` provider and the direction fitting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

_LAYER_PATHS = (
    "model.layers",  # Llama, Mistral, Qwen, Gemma, Phi-3, OLMo
    "model.language_model.layers",  # Gemma 3 / multimodal wrappers
    "model.model.layers",
    "model.decoder.layers",  # OPT
    "transformer.h",  # GPT-2, Falcon, BLOOM
    "gpt_neox.layers",
)


def num_layers(model: Any) -> int | None:
    config = model.config
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    n = getattr(text, "num_hidden_layers", None) or getattr(text, "n_layer", None)
    return int(n) if n else None


def decoder_layers(model: Any) -> list[torch.nn.Module]:
    """The model's decoder layers, in order."""
    expected = num_layers(model)
    for path in _LAYER_PATHS:
        obj: Any = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, torch.nn.ModuleList) and (expected is None or len(obj) == expected):
            return list(obj)
    candidates: list[torch.nn.ModuleList] = [
        m
        for _, m in model.named_modules()
        if isinstance(m, torch.nn.ModuleList) and len(m) > 0 and (expected is None or len(m) == expected)
    ]
    if candidates:
        return list(max(candidates, key=lambda m: sum(1 for _ in m)))  # the longest list
    raise ValueError(
        f"cannot find the decoder layers of {type(model).__name__} (looked for {', '.join(_LAYER_PATHS)} "
        "and for a ModuleList with config.num_hidden_layers entries)"
    )


def _hidden(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, tuple) else output


def _with_hidden(output: Any, hidden: torch.Tensor) -> Any:
    return (hidden, *output[1:]) if isinstance(output, tuple) else hidden


class LayerHooks:
    """Context manager installing one forward hook per chosen decoder layer.

    - ``capture``: keep the last position's output of every chosen layer (``captured[l]``: one
      ``[batch, hidden]`` float32 CPU tensor per forward call);
    - ``project``: unit directions per layer; keep the last position's projection onto them, taken
      BEFORE any steering of that layer (``projections[l]``: one ``[batch]`` tensor per call);
    - ``add``: vectors per layer added to that layer's output at every position (steering).
      Layers not in ``add`` are left exactly as they are;
    - ``all_positions``: with ``project``, keep the projection at every position (``[batch, seq]``
      per call) instead of the last one only.
    """

    def __init__(
        self,
        layers: Sequence[torch.nn.Module],
        layer_ids: Sequence[int],
        *,
        add: dict[int, torch.Tensor] | None = None,
        project: dict[int, torch.Tensor] | None = None,
        capture: bool = False,
        all_positions: bool = False,
    ) -> None:
        self.layers = layers
        self.layer_ids = list(layer_ids)
        self.add = add or {}
        self.project = project or {}
        self.capture = capture
        self.all_positions = all_positions
        self.captured: dict[int, list[torch.Tensor]] = {i: [] for i in self.layer_ids}
        self.projections: dict[int, list[torch.Tensor]] = {i: [] for i in self.layer_ids}
        self._handles: list[Any] = []

    def _hook(self, layer_id: int) -> Any:
        add = self.add.get(layer_id)
        direction = self.project.get(layer_id)

        def hook(module: torch.nn.Module, args: Any, output: Any) -> Any:
            hidden = _hidden(output)
            last = hidden[:, -1, :]
            if self.capture:
                self.captured[layer_id].append(last.detach().float().cpu())
            if direction is not None:  # (a model sharded over GPUs may have layers on several devices)
                d = direction.to(device=last.device, dtype=torch.float32)
                states = hidden if self.all_positions else last
                self.projections[layer_id].append((states.float() @ d).detach().cpu())
            if add is None:
                return None  # output untouched
            return _with_hidden(output, hidden + add.to(device=hidden.device, dtype=hidden.dtype))

        return hook

    def __enter__(self) -> LayerHooks:
        for i in self.layer_ids:
            if not 0 <= i < len(self.layers):
                raise ValueError(f"layer {i} out of range: the model has layers 0-{len(self.layers) - 1}")
            self._handles.append(self.layers[i].register_forward_hook(self._hook(i)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def projection_steps(self) -> torch.Tensor:
        """``[steps, batch, layers]``: the recorded projections, one row per forward call."""
        per_layer = [torch.stack(self.projections[i]) for i in self.layer_ids]
        return torch.stack(per_layer, dim=-1)


def steering_vectors(
    directions: torch.Tensor, layers: Sequence[int], coeff: float
) -> dict[int, torch.Tensor] | None:
    """``coeff * direction[l]`` for each chosen layer; None when ``coeff == 0`` (nothing added at all)."""
    if coeff == 0:
        return None
    return {layer: coeff * directions[layer] for layer in layers}


def generated_lengths(generated: torch.Tensor, stop_ids: Sequence[int]) -> torch.Tensor:
    """Per row, the number of generated tokens up to and including the first stop (EOS) token."""
    steps = generated.shape[1]
    lengths = torch.full((generated.shape[0],), steps, dtype=torch.long)
    if not stop_ids or steps == 0:
        return lengths
    is_stop = torch.isin(generated.cpu(), torch.tensor(list(stop_ids), dtype=generated.dtype))
    has_stop = is_stop.any(dim=1)
    first = is_stop.float().argmax(dim=1)
    lengths[has_stop] = first[has_stop] + 1
    return lengths


def honesty_scores(projections: torch.Tensor, lengths: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Per row: mean over the row's generation steps of ``projection - center``, per layer.

    ``projections``: ``[steps, batch, layers]`` (step ``t`` is the state that predicted generated
    token ``t``); ``lengths``: ``[batch]``; ``centers``: ``[layers]``. Returns ``[batch, layers]``
    (NaN for a row with no generated token).
    """
    steps = projections.shape[0]
    mask = (torch.arange(steps)[:, None] < lengths[None, :]).float()  # [steps, batch]
    centred = projections - centers[None, None, :]
    total = (centred * mask[:, :, None]).sum(dim=0)
    count = mask.sum(dim=0)[:, None]
    return torch.where(count > 0, total / count.clamp(min=1), torch.full_like(total, float("nan")))


def left_pad(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)``, each ``[rows, longest]``, the rows padded on the left."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, width - len(s) :] = torch.tensor(list(s))
        mask[r, width - len(s) :] = 1
    return ids, mask


def forward_padded(model: Any, seqs: Sequence[Sequence[int]], hooks: Any, pad_id: int, device: Any) -> None:
    """One left-padded forward pass over ``seqs`` with ``hooks`` installed (position ids from the mask,
    so a row's states do not depend on its padding; the last position is every row's last token)."""
    ids, mask = left_pad(seqs, pad_id)
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    with hooks:
        model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=position_ids.to(device),
            use_cache=False,
            **_no_logits(model),
        )


def _no_logits(model: Any) -> dict[str, Any]:
    """``logits_to_keep=1`` where the model takes it: reading states needs no vocabulary projection
    over every position (for a small model with a large vocabulary, a large share of the compute)."""
    import inspect

    return {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
