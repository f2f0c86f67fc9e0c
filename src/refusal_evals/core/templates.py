"""``{placeholder}`` templates of the data files: which names they use, and filling them."""

from __future__ import annotations

import string


def template_fields(text: str, where: str) -> set[str]:
    """Names of the ``{placeholders}`` in ``text`` (``{{`` and ``}}`` are literal braces)."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as ex:
        raise ValueError(
            f"{where}: malformed placeholder ({ex}); write literal braces as {{{{ }}}}"
        ) from None
    names = set()
    for _, field, spec, conv in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conv:
            raise ValueError(f"{where}: placeholder {{{field}}} must be a plain name like {{car}}")
        names.add(field)
    return names


def fill(text: str, values: dict[str, str]) -> str:
    """Fill ``{placeholders}`` of a template validated by :class:`Scenario`."""
    return text.format_map(values)
