"""``repe/<model>``: Inspect's ``hf/`` provider with honesty steering and an honesty read-out.

Subclasses Inspect's ``HuggingFaceAPI`` (loading, device, dtype, tokenizer, chat templates, tool
handling, batching and logprobs are all its own) and changes only what happens around
``model.generate``:

- forward hooks add ``coeff * direction[l]`` to the output of each chosen decoder layer ``l`` at
  every position (prompt and generated tokens) -- nothing is added when ``coeff == 0``;
- the same hooks record, at each generation step, the projection of the last position's state
  onto ``direction[l]`` (before the layer's own addition, relative to the layer's center); the
  reply's honesty score is their mean over the reply's tokens and the chosen layers.

Model args (``-M``), besides everything ``hf/`` accepts (``device``, ``dtype``, ``batch_size``,
``do_sample``, ``chat_template``, ``trust_remote_code``, ...; not ``hidden_states``):

======================  ================================================================
``honesty_coeff``       float, default 0: the steering coefficient (hidden-state units)
``layers``              e.g. ``10-17``, ``12,14,16``, ``8-11,20``; default: the best middle window
``direction``           path of a saved direction (``.npz``) instead of reading one
``statements``          ``statement,label`` CSV to read the direction from (default built-in)
``truncations``         truncation points per statement (default 4)
``max_train_pairs``     contrast pairs used to fit (default 512)
``facts``               ``question,answer`` CSV of held-out facts for the checks (default built-in)
``fit_batch_size``      batch size while reading the direction (default 64 on a GPU, 16 on a CPU)
``direction_cache``     cache folder, or ``false`` to neither read nor write the cache
======================  ================================================================

``--temperature 0`` decodes greedily (``hf/`` needs ``-M do_sample=false`` for that; both work).
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path
from typing import Any, cast

import inspect_ai.model._providers.hf as hfp  # inspect-evals-lint: ignore[private_api_imports] -- subclassed
import torch
from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    GenerateConfig,
    Logprobs,
    ModelAPI,
    ModelOutput,
    ModelUsage,
)
from inspect_ai.tool import ToolChoice, ToolInfo
from typing_extensions import override

from refusal_evals.core.errors import UserError
from refusal_evals.repe.context import honesty_coeff_override
from refusal_evals.repe.direction import DirectionSettings, HonestyDirection, load_or_read_direction
from refusal_evals.repe.facts import Fact, load_facts
from refusal_evals.repe.statements import Statements, load_statements
from refusal_evals.repe.steering import (
    LayerHooks,
    decoder_layers,
    generated_lengths,
    honesty_scores,
    steering_vectors,
)

DEFAULT_CONFIG = GenerateConfig()

OWN_ARGS = (
    "honesty_coeff",
    "layers",
    "direction",
    "statements",
    "truncations",
    "max_train_pairs",
    "fit_batch_size",
    "direction_cache",
    "facts",
)


def parse_layers(value: Any, n_layers: int) -> list[int]:
    """``10-17``, ``12,14``, ``8-11,20``, an int or a list -> sorted layer indices (0-based)."""
    if isinstance(value, bool):
        raise UserError(f"-M layers: expected a range such as 10-17, got {value!r}")
    items: list[Any] = list(value) if isinstance(value, list | tuple) else str(value).split(",")
    chosen: set[int] = set()
    valid = f"layers are numbered 0-{n_layers - 1} for this model"
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)|(\d+)", text)
        if not m:
            raise UserError(
                f"-M layers: cannot read {text!r}; use a range such as 10-17 or a list 12,14 ({valid})"
            )
        lo, hi = (int(m.group(1)), int(m.group(2))) if m.group(3) is None else (int(m.group(3)),) * 2
        if lo > hi:
            raise UserError(f"-M layers: range {text!r} runs backwards")
        if hi >= n_layers:
            raise UserError(f"-M layers: {text!r} is out of range; {valid}")
        chosen.update(range(lo, hi + 1))
    if not chosen:
        raise UserError(f"-M layers: no layer given ({valid})")
    return sorted(chosen)


def format_layers(layers: list[int]) -> str:
    """``[3, 4, 5, 9]`` -> ``3-5,9``."""
    parts: list[str] = []
    start = prev = layers[0]
    for layer in [*layers[1:], None]:
        if layer is not None and layer == prev + 1:
            prev = layer
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if layer is not None:
            start = prev = layer
    return ",".join(parts)


def _float_arg(name: str, value: Any) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise UserError(f"-M {name}: expected a number, got {value!r}") from None
    if not math.isfinite(result):
        raise UserError(f"-M {name}: expected a finite number, got {value!r}")
    return result


def _int_arg(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise UserError(f"-M {name}: expected a whole number, got {value!r}")
    try:
        return int(str(value))
    except ValueError:
        raise UserError(f"-M {name}: expected a whole number, got {value!r}") from None


def _direction_inputs(
    own: dict[str, Any],
) -> tuple[DirectionSettings, HonestyDirection | None, tuple[Statements, list[Fact]] | None]:
    """The direction's ``-M`` arguments checked and its input file read before any weights load (a
    bad file fails in seconds, not after the load): ``(settings, the saved direction given with -M
    direction, else None, the validated statements and facts when no saved direction is given)``."""
    settings = DirectionSettings(
        statements=str(own["statements"]) if own.get("statements") else None,
        truncations=_int_arg("truncations", own.get("truncations", 4)),
        max_train_pairs=_int_arg("max_train_pairs", own.get("max_train_pairs", 512)),
        batch_size=_int_arg("fit_batch_size", own["fit_batch_size"]) if "fit_batch_size" in own else None,
        facts=str(own["facts"]) if own.get("facts") else None,
    )
    settings.validate()
    if own.get("layers") is not None:
        parse_layers(own["layers"], 1_000_000)  # the syntax now; the range once the model is loaded
    if own.get("direction"):
        return settings, HonestyDirection.load(str(own["direction"])), None
    return settings, None, (load_statements(settings.statements), load_facts(settings.facts))


def direction_check(direction: HonestyDirection, layers: list[int]) -> dict[str, Any]:
    """The direction's checks in brief, carried in every reply's honesty record (so a log shows what
    the read-out and steering are worth, and the report can draw the steering check): (a) and (b)
    averaged over the chosen layers, and the steering check curve."""
    a, b = direction.checks()

    def mean(values: Any) -> float | None:
        chosen = [float(values[i]) for i in layers if not math.isnan(float(values[i]))]
        return round(sum(chosen) / len(chosen), 4) if chosen else None

    return {
        "statement_auroc": mean(a),
        "lie_auroc": mean(b),
        "steering_check": direction.info.get("steering_check"),
    }


class SteeredHuggingFaceAPI(hfp.HuggingFaceAPI):
    supports_honesty_steering = True
    """Marker the ``honesty_steering`` task checks (without importing torch)."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = DEFAULT_CONFIG,
        **model_args: Any,
    ) -> None:
        if api_key == hfp.MODEL_INFO_LOOKUP_API_KEY:
            # Inspect's get_model_info() instantiates a provider only to learn the model's canonical
            # name (e.g. for usage events): never load the weights or read a direction for that.
            ModelAPI.__init__(
                self,
                model_name=model_name,
                base_url=base_url,
                api_key=api_key,
                api_key_vars=[hfp.HF_TOKEN],
                config=config,
            )
            self.model = None
            self.lookup_only = True
            return
        self.lookup_only = False
        own = {k: model_args.pop(k) for k in OWN_ARGS if k in model_args}
        if model_args.get("hidden_states"):
            raise UserError(
                "-M hidden_states: not supported by repe/ (it records a compact honesty score per reply "
                "instead of full hidden states); use hf/ to record hidden states"
            )
        model_args.pop("hidden_states", None)
        self.honesty_coeff = _float_arg("honesty_coeff", own.get("honesty_coeff", 0.0))
        settings, saved, inputs = _direction_inputs(own)
        cache = own.get("direction_cache")
        use_cache = not (cache is False or str(cache).strip().lower() in ("false", "off", "none", "no"))

        super().__init__(model_name, base_url, api_key, config, **model_args)
        self.model.eval()
        self.layer_modules = decoder_layers(self.model)
        n_layers = len(self.layer_modules)
        model_id = str(model_args.get("model_path") or model_name)

        self.direction_file: Path | None
        if saved is not None:
            self.direction = saved
            self.direction_file, self.direction_from_cache = Path(str(own["direction"])), True
        else:
            self.direction, self.direction_file, self.direction_from_cache = load_or_read_direction(
                self.model,
                self.tokenizer,
                model_id,
                settings,
                directory=str(cache) if use_cache and cache not in (None, True) else None,
                use_cache=use_cache,
                statements=inputs[0] if inputs else None,
                facts=inputs[1] if inputs else None,
            )
        if self.direction.n_layers != n_layers or self.direction.directions.shape[1] != self._hidden_size():
            raise UserError(
                f"honesty direction {self.direction_file or ''} has shape "
                f"{tuple(self.direction.directions.shape)}; "
                f"the model has {n_layers} layers of width {self._hidden_size()}"
            )
        self.layers = (
            parse_layers(own["layers"], n_layers)
            if own.get("layers") is not None
            else self.direction.default_layers()
        )
        self.layers_text = format_layers(self.layers)
        device = next(self.model.parameters()).device
        self._directions = torch.from_numpy(self.direction.directions).to(device)
        self._centers = torch.from_numpy(self.direction.centers[self.layers].copy()).float()
        self._stop_ids = self._eos_ids()
        self._check = direction_check(self.direction, self.layers)

    def _hidden_size(self) -> int:
        with torch.no_grad():
            return int(self.model.get_input_embeddings().weight.shape[1])

    def _eos_ids(self) -> list[int]:
        ids: set[int] = set()
        eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        for value in eos if isinstance(eos, list | tuple) else [eos]:
            if value is not None:
                ids.add(int(value))
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        return sorted(ids)

    def direction_summary(self) -> dict[str, Any]:
        return {
            **self.direction.summary(),
            "file": str(self.direction_file) if self.direction_file else None,
            "from_cache": self.direction_from_cache,
            "layers": self.layers_text,
        }

    def coefficient(self) -> float:
        """The sample's coefficient (``honesty_steering``) when this is the model under test, else
        ``-M honesty_coeff``."""
        override = honesty_coeff_override(self)
        return self.honesty_coeff if override is None else override

    def _steered_generate(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, honesty_coeff: float, **kwargs: Any
    ) -> Any:
        """Runs in Inspect's batch thread: one batch, one coefficient (it is part of the batch key)."""
        add = steering_vectors(self._directions, self.layers, honesty_coeff)
        project = {layer: self._directions[layer] for layer in self.layers}
        hooks = LayerHooks(self.layer_modules, self.layers, add=add, project=project)
        with hooks:
            out = self.model.generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        generated = out.sequences[:, input_ids.shape[1] :]
        batch = generated.shape[0]
        packed = torch.full((batch, 2 + len(self.layers)), float("nan"))
        if hooks.projections[self.layers[0]] and generated.shape[1] > 0:
            projections = hooks.projection_steps()
            steps = min(projections.shape[0], generated.shape[1])
            lengths = generated_lengths(generated[:, :steps], self._stop_ids)
            per_layer = honesty_scores(projections[:steps], lengths, self._centers)
            packed[:, 0] = per_layer.mean(dim=-1)
            packed[:, 1] = lengths.float()
            packed[:, 2:] = per_layer
        # Inspect's batch loop hands each request ``hidden_states_to_jsonable(out.hidden_states, i)``,
        # i.e. ``[[row i of each tensor]]``: a [batch, k] tensor in that slot reaches each request as
        # its own k floats (full hidden states are never requested).
        out.hidden_states = ((packed,),)
        return out

    @override
    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        # as HuggingFaceAPI.generate, with our generator and the honesty read-out
        if self.lookup_only:
            raise RuntimeError("repe/: this instance was made for a model-info lookup and cannot generate")
        handler: hfp.ChatAPIHandler | None = (
            hfp.HFHandler(self.model_name, self.model_family()) if tools else None
        )
        chat = self.hf_chat(input, tools)
        assert isinstance(self.tokenizer_call_args, dict)
        tokenizer = functools.partial(
            cast(Any, self.tokenizer), return_tensors="pt", padding=True, **self.tokenizer_call_args
        )
        greedy = config.temperature == 0
        kwargs: dict[str, Any] = dict(do_sample=False if greedy else self.do_sample)
        if config.max_tokens is not None:
            kwargs["max_new_tokens"] = config.max_tokens
        if not greedy:
            if config.temperature is not None:
                kwargs["temperature"] = config.temperature
            if config.top_p is not None:
                kwargs["top_p"] = config.top_p
            if config.top_k is not None:
                kwargs["top_k"] = config.top_k
        if config.logprobs is not None:
            kwargs["output_logits"] = config.logprobs
        if config.stop_seqs is not None:
            from transformers.generation import StopStringCriteria

            kwargs["stopping_criteria"] = [StopStringCriteria(self.tokenizer, config.stop_seqs)]
        kwargs["return_dict_in_generate"] = True
        coeff = self.coefficient()
        generator = functools.partial(self._steered_generate, honesty_coeff=coeff, **kwargs)
        decoder = functools.partial(
            self.tokenizer.batch_decode, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        response = await hfp.batched_generate(
            hfp.GenerateInput(
                input=chat,
                device=self.model.device,
                tokenizer=tokenizer,
                generator=generator,
                decoder=decoder,
                batch_size=config.max_connections or self.max_connections(),
            )
        )
        final_logprobs = None
        if config.logprobs is not None:
            final_logprobs = hfp.extract_logprobs(
                response=response, top=config.top_logprobs, tokenizer=self.tokenizer
            )

        honesty = self._honesty_record(response.hidden_states, coeff)
        message = hfp.chat_completion_assistant_message(response, tools, handler, self.model_name)
        message.metadata = {**(message.metadata or {}), "honesty": honesty}
        choice = ChatCompletionChoice(
            message=message,
            logprobs=Logprobs(content=final_logprobs) if final_logprobs is not None else None,
        )
        return ModelOutput(
            model=self.model_name,
            choices=[choice],
            usage=ModelUsage(
                input_tokens=response.input_tokens,
                output_tokens=response.output_tokens,
                total_tokens=response.total_tokens,
            ),
            time=response.time,
            metadata={"honesty": honesty},
        )

    def _honesty_record(self, packed: Any, coeff: float) -> dict[str, Any]:
        try:
            values = [float(v) for v in packed[0][0]]
        except (TypeError, IndexError, ValueError):
            raise RuntimeError(
                "repe/: the honesty read-out did not come back from Inspect's hf batch loop "
                "(an inspect_ai change?); pin inspect-ai to a tested version"
            ) from None

        def clean(v: float) -> float | None:
            return None if math.isnan(v) else round(v, 4)

        return {
            "score": clean(values[0]),
            "by_layer": [clean(v) for v in values[2:]],
            "tokens": 0 if math.isnan(values[1]) else int(values[1]),
            "coeff": coeff,
            "layers": self.layers_text,
            "direction_check": self._check,
        }
