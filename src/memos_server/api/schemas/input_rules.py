"""What every JSON request body must be, whatever its fields: text Postgres can store, finite
numbers, and a bounded depth.

Checked once on the parsed body, before any field is read, so a rule holds for every field alike:
named ones, free ones (``info``, ``filter``, ``tool_calls``, file parts) and unknown ones the
models ignore. The first offence is reported with its path (``messages[2].content``).

- U+0000 (NUL): Postgres ``text`` and ``jsonb`` cannot hold it. Refused rather than stripped:
  stripping would store something the client did not send.
- Lone surrogates (U+D800 to U+DFFF): JSON's ``\\ud800`` escape can spell one, and Python's parser
  lets it through, but it is not a character and cannot be encoded as UTF-8 at all.
- ``NaN`` and ``Infinity``: Python's parser accepts them; JSON (RFC 8259) and ``jsonb`` do not.
- Nesting deeper than ``MAX_DEPTH``: no request this API defines comes near it (a filter nesting
  ``and``/``or`` is under ten levels), and a deep document kept in ``info`` would cost every later
  read that recurses through it.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_DEPTH = 64

_SURROGATE = re.compile("[\ud800-\udfff]")


def body_problem(body: Any) -> str | None:
    """The first rule the body breaks, as a message naming the field; None if it keeps them all."""
    # Iterative, depth first in document order: a recursive walk would itself overflow on the
    # deep documents it exists to refuse. Each entry: value, its path, its depth, and the
    # top-level field it is in (what a too-deep document is reported by).
    stack: list[tuple[Any, str, int, str]] = [(body, "", 0, "body")]
    while stack:
        value, path, depth, field = stack.pop()
        where = path or "body"
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                return f"{where} {problem}"
        elif isinstance(value, float) and not math.isfinite(value):
            return f"{where} is NaN or Infinity, which JSON does not allow"
        elif isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                return f"{field} is nested more than {MAX_DEPTH} levels deep"
            children: list[tuple[Any, str, int, str]] = []
            if isinstance(value, dict):
                for key, item in value.items():
                    problem = text_problem(key)
                    if problem is not None:
                        return f"{where} has a key that {problem}"
                    child = f"{path}.{key}" if path else key
                    children.append((item, child, depth + 1, child if depth == 0 else field))
            else:
                for i, item in enumerate(value):
                    child = f"{path}[{i}]"
                    children.append((item, child, depth + 1, child if depth == 0 else field))
            stack.extend(reversed(children))
    return None


def text_problem(text: str) -> str | None:
    """Why this text cannot be stored, or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    surrogate = _SURROGATE.search(text)
    if surrogate is not None:
        return (
            f"contains a lone surrogate (\\u{ord(surrogate.group()):04x}), "
            "which is not a Unicode character"
        )
    return None
