"""Registration of the ``repe`` model provider with Inspect (cheap: no torch import here).

Inspect registers a provider from an extension package under ``<package>/<name>``
(``refusal_evals/repe``), but ``get_model()`` matches the provider part of a model string against
the UNQUALIFIED name (see ``inspect_ai.model._model.get_model``: ``registry_unqualified_name(info) ==
api_name``), and loads every extension's entry point when nothing matches. So the model string is

    --model repe/<hugging face id or local path>      e.g.  --model repe/meta-llama/Llama-2-7b-chat-hf

(not ``refusal_evals/repe/...``: there the provider part would be ``refusal_evals``).
"""

from inspect_ai.model import ModelAPI, modelapi


@modelapi(name="repe")
def repe() -> type[ModelAPI]:
    try:
        from refusal_evals.repe.provider import SteeredHuggingFaceAPI
    except ImportError as ex:
        raise ImportError(
            f"the repe/ provider needs the hf extra (torch, transformers, accelerate): "
            f"pip install 'refusal-evals[hf]' ({ex})"
        ) from ex
    return SteeredHuggingFaceAPI
