"""The tree a client writes a template's or a profile's fields as, and the list they are kept as.

The Cloud's ``metadata`` is a tree of up to three levels of names whose leaves are field objects
``{"value": str, "algorithm_updatable": bool}``: ``{"基本信息": {"职业": {"value": "", ...}}}``,
or fields straight under the root when no category is wanted. A node is a leaf when it has a
``value`` that is not an object, or only an ``algorithm_updatable`` (no value: a template's is
empty, an edit keeps the field's). Names may not hold ``.``: remove_fields and ``profile_path``
join names with it. Stored, the fields are a list of ``{path, value, algorithm_updatable,
updated_at}`` in the client's order (``Field``); ``tree`` makes the Cloud's shape again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memos_server.errors import BadRequest, RequiredFieldEmpty, TooLong
from memos_server.settings.profiles import ProfileSettings

MAX_DEPTH = 3  # the Cloud's "up to three levels of nesting"
SEPARATOR = "."

Path = tuple[str, ...]


@dataclass(frozen=True)
class FieldSpec:
    """A leaf as a request wrote it; ``value`` and ``algorithm_updatable`` None when the
    request left them out."""

    path: Path
    value: str | None
    algorithm_updatable: bool | None


@dataclass(frozen=True)
class Field:
    """A stored field."""

    path: Path
    value: str
    algorithm_updatable: bool
    updated_at: str | None = None

    @property
    def dotted(self) -> str:
        return dotted(self.path)

    def stored(self) -> dict[str, Any]:
        return {
            "path": list(self.path),
            "value": self.value,
            "algorithm_updatable": self.algorithm_updatable,
            "updated_at": self.updated_at,
        }


def dotted(path: Path) -> str:
    return SEPARATOR.join(path)


def fields_of(stored: list[dict[str, Any]]) -> list[Field]:
    return [
        Field(
            path=tuple(item["path"]),
            value=str(item.get("value", "")),
            algorithm_updatable=bool(item.get("algorithm_updatable", True)),
            updated_at=item.get("updated_at"),
        )
        for item in stored
    ]


def stored_fields(fields: list[Field]) -> list[dict[str, Any]]:
    return [f.stored() for f in fields]


def tree(fields: list[Field]) -> dict[str, Any]:
    """The Cloud's nested ``metadata`` / ``properties`` shape of these fields."""
    root: dict[str, Any] = {}
    for f in fields:
        node = root
        for name in f.path[:-1]:
            node = node.setdefault(name, {})
        node[f.path[-1]] = {"value": f.value, "algorithm_updatable": f.algorithm_updatable}
    return root


_LEAF_KEYS = frozenset({"value", "algorithm_updatable"})


def _is_leaf(node: Any) -> bool:
    """A field: a ``value`` that is not an object, or only ``algorithm_updatable`` (an edit
    that locks or unlocks a field and keeps its value)."""
    if not isinstance(node, dict) or not node:
        return False
    if "value" in node:
        return not isinstance(node["value"], dict)
    return set(node) <= _LEAF_KEYS and not isinstance(node["algorithm_updatable"], dict)


def parse_tree(
    metadata: Any, limits: ProfileSettings, *, where: str = "metadata"
) -> list[FieldSpec]:
    """The leaves of a request's tree, in its order; 400 / 413 saying where it is wrong."""
    if not isinstance(metadata, dict):
        raise BadRequest(f"{where} must be an object of categories and fields")
    found: list[FieldSpec] = []
    _walk(metadata, (), limits, where, found)
    if len(found) > limits.max_fields:
        raise TooLong(f"{where} holds {len(found)} fields, more than {limits.max_fields}")
    return found


def _walk(
    node: dict[str, Any], path: Path, limits: ProfileSettings, where: str, found: list[FieldSpec]
) -> None:
    for name, child in node.items():
        here = (*path, check_name(name, limits, where))
        if len(found) > limits.max_fields:
            return  # parse_tree refuses it; stop reading a huge tree
        if _is_leaf(child):
            found.append(_leaf(child, here, limits, where))
        elif isinstance(child, dict):
            if len(here) >= MAX_DEPTH:
                raise BadRequest(
                    f"{where}.{dotted(here)} nests deeper than {MAX_DEPTH} levels: a field is "
                    '{"value": ..., "algorithm_updatable": ...}'
                )
            if not child:
                raise BadRequest(f"{where}.{dotted(here)} is an empty category")
            _walk(child, here, limits, where, found)
        else:
            raise BadRequest(
                f"{where}.{dotted(here)} must be a field object "
                '{"value": "...", "algorithm_updatable": true} or a category of fields'
            )


def check_name(name: str, limits: ProfileSettings, where: str) -> str:
    clean = name.strip()
    if not clean:
        raise RequiredFieldEmpty(f"{where} holds a blank category or field name")
    if SEPARATOR in clean:
        raise BadRequest(
            f"{where}: the name {clean!r} holds '{SEPARATOR}', which separates names in paths"
        )
    if len(clean) > limits.max_name_chars:
        raise TooLong(f"{where}: a name is longer than {limits.max_name_chars} characters")
    return clean


def _leaf(node: dict[str, Any], path: Path, limits: ProfileSettings, where: str) -> FieldSpec:
    nested = [
        key for key, child in node.items() if key not in _LEAF_KEYS and isinstance(child, dict)
    ]
    if nested:
        raise BadRequest(
            f"{where}.{dotted(path)} is a field (it has a value) and holds fields too "
            f'({", ".join(nested)}): a field is {{"value": ..., "algorithm_updatable": ...}}'
        )
    value = node.get("value")
    updatable = node.get("algorithm_updatable")
    if updatable is not None and not isinstance(updatable, bool):
        raise BadRequest(f"{where}.{dotted(path)}.algorithm_updatable must be true or false")
    if value is None:
        return FieldSpec(path, None, updatable)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadRequest(f"{where}.{dotted(path)}.value must be a string")
    text = str(value)
    if len(text) > limits.max_value_chars:
        raise TooLong(
            f"{where}.{dotted(path)}.value is longer than {limits.max_value_chars} characters"
        )
    return FieldSpec(path, text, updatable)


def parse_path(text: str, limits: ProfileSettings, where: str) -> Path:
    """A dotted path of remove_fields ("基本信息.职业"), its names checked like a tree's."""
    names = text.split(SEPARATOR)
    if len(names) > MAX_DEPTH:
        raise BadRequest(f"{where}: {text!r} is deeper than {MAX_DEPTH} levels")
    return tuple(check_name(name, limits, where) for name in names)


def check_leaf_conflicts(fields: list[Field], where: str) -> None:
    """No field may also be a category of another ("a" a field and "a.b" a field)."""
    paths = {f.path for f in fields}
    for f in fields:
        for depth in range(1, len(f.path)):
            if f.path[:depth] in paths:
                raise BadRequest(
                    f"{where}: {dotted(f.path[:depth])} is a field, so it cannot hold "
                    f"{dotted(f.path)}"
                )
