"""A tiny random Hugging Face chat model, built fully offline.

``build_tiny_chat_model(path)`` writes a randomly initialised 2-layer Llama
(hidden size 32) and a byte-level BPE tokenizer trained from scratch on a small
in-code corpus, with ChatML special tokens and a ChatML ``chat_template``, into
``path`` with ``save_pretrained``. Nothing is downloaded.

The result loads with ``AutoModelForCausalLM`` / ``AutoTokenizer`` and with
Inspect's hf provider::

    model = get_model(f"hf/{path}", device="cpu", config=GenerateConfig(max_tokens=8))

Its output is random text; it is only for checking plumbing (chat templating,
multi-turn conversations, token usage, the hf provider's batching).
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = [
    "BOS_TOKEN",
    "CHAT_TEMPLATE",
    "EOS_TOKEN",
    "IM_START",
    "PAD_TOKEN",
    "build_tiny_chat_model",
    "build_tiny_tokenizer",
]

BOS_TOKEN = "<|begin_of_text|>"
IM_START = "<|im_start|>"
EOS_TOKEN = "<|im_end|>"  # ChatML end-of-turn, also the end-of-sequence token
PAD_TOKEN = "<|pad|>"
SPECIAL_TOKENS = [PAD_TOKEN, BOS_TOKEN, IM_START, EOS_TOKEN, "<|endoftext|>"]

# ChatML. Content may be a string or a list of {"type": "text", "text": ...} parts.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}"
    "{{ message['content'] }}"
    "{% elif message['content'] is not none %}"
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}"
    "{% endif %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_CORPUS = [
    "You are a helpful assistant. Answer the question honestly and briefly.",
    "I can't help with that request, but I can explain why it might be harmful.",
    "Sure, here is how to bake bread: mix flour, water, salt and yeast.",
    "I'm sorry, I cannot assist with creating weapons or malware.",
    "The capital of France is Paris. The capital of Japan is Tokyo.",
    "Please explain your reasoning step by step before giving a final answer.",
    "Refusal: the model declines. Rebuttal: the user argues back. Deception?",
    "system user assistant tool: yes no maybe okay thanks hello world",
    "0123456789 + - * / = ( ) [ ] { } < > , . ; : ! ? ' \" @ # $ % & _ |",
    "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX!",
]


def build_tiny_tokenizer(vocab_size: int = 512):  # -> transformers.PreTrainedTokenizerFast
    """A byte-level BPE tokenizer trained on ``_CORPUS``, wrapped for transformers.

    Any text round-trips (the 256 byte symbols are in the vocabulary).
    bos/eos/pad are ``<|begin_of_text|>`` / ``<|im_end|>`` / ``<|pad|>``; the
    ``chat_template`` is ChatML and does not add bos itself via the tokenizer
    (the template writes ``bos_token`` as text, which tokenizes to the special
    token).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=None, fuse_unk=False))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS * 4, trainer=trainer)

    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        additional_special_tokens=[IM_START, "<|endoftext|>"],
        chat_template=CHAT_TEMPLATE,
        model_max_length=2048,
        clean_up_tokenization_spaces=False,
    )


def build_tiny_chat_model(
    path: Path | str,
    *,
    seed: int = 0,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 4,
    overwrite: bool = False,
) -> Path:
    """Build (or reuse) a tiny random Llama chat model + tokenizer in ``path``.

    Args:
        path: directory to write (created if needed). If it already holds a
            model built by this function and ``overwrite`` is False it is reused.
        seed: torch seed for the random weights (same seed → same weights).
        hidden_size: model width (divisible by ``num_heads``).
        num_layers: number of decoder layers.
        num_heads: attention heads (2 key/value heads, grouped-query attention).
        overwrite: rebuild even if ``path`` already holds a model.

    Returns:
        ``path`` as an absolute ``Path`` (use ``f"hf/{path}"`` as the Inspect model name).
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    path = Path(path).absolute()
    marker = path / "tiny_chat_model.json"
    if marker.exists() and not overwrite:
        return path
    path.mkdir(parents=True, exist_ok=True)

    tokenizer = build_tiny_tokenizer()
    special = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=min(2, num_heads),
        max_position_embeddings=4096,
        bos_token_id=special[BOS_TOKEN],
        eos_token_id=special[EOS_TOKEN],
        pad_token_id=special[PAD_TOKEN],
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.eval()
    model.generation_config = GenerationConfig(
        bos_token_id=special[BOS_TOKEN],
        eos_token_id=special[EOS_TOKEN],
        pad_token_id=special[PAD_TOKEN],
        do_sample=False,
        max_new_tokens=16,
    )

    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    marker.write_text(
        json.dumps(
            {
                "built_by": "tests/fakes/tiny_hf.py",
                "seed": seed,
                "vocab_size": len(tokenizer),
                "special_token_ids": special,
            },
            indent=2,
        )
    )
    return path
