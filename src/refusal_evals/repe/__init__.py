"""Representation engineering for local models: read an honesty direction in the hidden states and
steer along it (after Zou et al. 2023, as used in arXiv 2406.01931).

Importing this package is cheap and needs no optional extra; torch and transformers are imported
only by ``direction.read_direction``, ``steering`` and ``provider`` (the ``hf`` extra).

- ``statements``: the ``statement,label`` CSV loader (built-in statements or a user's file);
- ``direction``: contrast pairs, per-layer reading vectors, held-out accuracy, cache;
- ``steering``: forward hooks that read, project and steer decoder-layer outputs;
- ``provider``: the ``repe/<model>`` Inspect model provider (registered in ``_modelapi``);
- ``context``: the per-sample steering coefficient used by ``refusal_evals/honesty_steering``;
- ``plots``: the trade-off curve (rates against the steering coefficient).
"""
