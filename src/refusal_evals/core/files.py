"""Read and validate the package's data files (YAML): errors name the file, field and what is valid."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from refusal_evals.core.errors import UserError


class DataFileError(UserError):  # Inspect prints only the message
    """A data file is missing, unparseable or does not match its schema."""


class DuplicateKeyError(yaml.YAMLError):
    """A mapping names the same key twice (plain YAML would silently keep the last value)."""

    def __init__(self, key: Any, line: int, first: int) -> None:
        super().__init__(f"duplicate key {key!r} at line {line} (first at line {first})")
        self.key, self.line, self.first = key, line, first


MAX_BYTES = 20 * 1024 * 1024
"""Largest data file (policy, scenario, dataset, prompt file) read: 20 MiB."""
MAX_ALIASES = 100
"""Most ``*alias`` references in one YAML file (anchors are for sharing a few blocks; more is an
alias bomb that would expand to gigabytes)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists in one YAML file."""


class LimitError(yaml.YAMLError):
    """A YAML file exceeds :data:`MAX_ALIASES` or :data:`MAX_DEPTH`."""


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects a key given twice in one mapping (merge keys ``<<`` aside),
    more than :data:`MAX_ALIASES` aliases and nesting deeper than :data:`MAX_DEPTH`."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                line = self.peek_event().start_mark.line + 1
                raise LimitError(
                    f"line {line}: more than {MAX_ALIASES} aliases (*name); write the values out"
                )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise LimitError(f"line {line}: nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise DuplicateKeyError(key, line, seen[key])
                seen[key] = line
            except TypeError:  # an unhashable (complex) key: the base constructor reports it
                continue
        return super().construct_mapping(node, deep=deep)


READ: dict[tuple[str, int, int], tuple[str, str | None]] = {}
"""(resolved path, mtime_ns, size) -> (sha256 of the bytes :func:`read_yaml` read, the top-level
``version``): what an experiment record (:mod:`refusal_evals.core.identity`) notes of a data file,
without reading it again."""


def read_text(path: Path) -> tuple[bytes, str]:
    """The bytes of a data file and their text: at most :data:`MAX_BYTES`, UTF-8 (a byte-order mark
    is dropped); anything else is a :class:`DataFileError` naming the file."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise DataFileError(
            f"{path}: {size:,} bytes; data files are limited to {MAX_BYTES // (1024 * 1024)} MiB"
        )
    raw = path.read_bytes()
    try:
        return raw, raw.decode("utf-8-sig")
    except UnicodeDecodeError as ex:
        raise DataFileError(f"{path}: not UTF-8 text (byte {ex.start}); save the file as UTF-8") from None


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a missing file, bad syntax or a key given twice is a :class:`DataFileError`
    naming the file (and the key and line). The file is read once; its hash is kept in :data:`READ`."""
    if not path.is_file():
        raise DataFileError(f"{path}: file not found")
    stat = path.stat()
    raw, text = read_text(path)
    data = parse_yaml(text, path)
    version = data.get("version") if isinstance(data, dict) else None
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    READ[key] = ("sha256:" + hashlib.sha256(raw).hexdigest(), None if version is None else str(version))
    return data


def parse_yaml(text: str, path: Path) -> Any:
    """Parse YAML text read from ``path`` (named in errors), rejecting a key given twice."""
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a safe loader
    except DuplicateKeyError as ex:
        raise DataFileError(
            f"{path}: line {ex.line}: key {ex.key!r} is given twice (first at line {ex.first}); "
            "give each key once"
        ) from None
    except LimitError as ex:
        raise DataFileError(f"{path}: {ex}") from None
    except yaml.YAMLError as ex:
        raise DataFileError(f"{path}: not valid YAML: {ex}") from None
    except RecursionError:
        raise DataFileError(f"{path}: nested too deeply to read") from None


def validate_file(path: Path, model: type[BaseModel]) -> Any:
    """Parse ``path`` as YAML and validate it against ``model``.

    Errors name the file, each offending field (as a dotted path) and what was expected.
    """
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise DataFileError(
            f"{path}: expected a mapping of fields at the top level, got {type(data).__name__}"
        )
    try:
        return model.model_validate(data)
    except ValidationError as ex:
        raise DataFileError(f"{path}: invalid {model.__name__}:\n{format_errors(ex)}") from None


def format_errors(ex: ValidationError) -> str:
    lines = []
    for err in ex.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling against the schema)"
        lines.append(f"  - {loc}: {msg}")
    return "\n".join(lines)
