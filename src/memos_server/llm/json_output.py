"""Read the JSON a language model meant to write, asking once more when it is unusable.

Models wrap JSON in ``<think>`` blocks and code fences, leave trailing commas, use single quotes,
answer a bare list where an object was asked for, and translate key names. ``parse_llm_json``
undoes each of those; what still is not JSON raises ``MalformedOutput`` with the reason, which is
shown to the model when it is asked once more (``ask_json``, which also counts the calls and
tokens spent in a ``Usage``).
"""

from __future__ import annotations

import ast
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError

from memos_server import metrics
from memos_server.llm.base import LLM
from memos_server.text.storable import storable

log = logging.getLogger(__name__)

T = TypeVar("T")

_THINK = re.compile(r"<think>.*?(</think>|$)", re.S | re.I)
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_PY_WORDS = {"true": "True", "false": "False", "null": "None"}

# Keys a model may write in the other language (or in a near synonym), and the key meant.
KEY_ALIASES = {
    "记忆": "memories",
    "记忆列表": "memories",
    "facts": "memories",
    "事实": "memories",
    "偏好": "preferences",
    "偏好列表": "preferences",
    "标题": "memory_key",
    "记忆键": "memory_key",
    "key": "memory_key",
    "title": "memory_key",
    "记忆值": "memory_value",
    "内容": "memory_value",
    "value": "memory_value",
    "memory": "memory_value",
    "fact": "memory_value",
    "标签": "tags",
    "类型": "memory_type",
    "记忆类型": "memory_type",
    "type": "memory_type",
    "时间": "memory_time",
    "事件时间": "memory_time",
    "date": "memory_time",
    "置信度": "confidence",
    "偏好类型": "preference_type",
    "偏好内容": "preference",
    "理由": "reasoning",
    "推理": "reasoning",
    "原因": "reasoning",
    "reason": "reasoning",
    "动作": "action",
    "操作": "action",
    "编号": "id",
}


# Keys that mark an object as one memory rather than a wrapper around a list of them.
ITEM_KEYS = frozenset({"memory_key", "memory_value", "preference", "preference_type"})


class MalformedOutput(ValueError):
    """The model's answer could not be read as the JSON asked for."""


def _strip_wrappers(text: str) -> str:
    text = _THINK.sub("", text).strip()
    fenced = _FENCE.search(text)
    return fenced.group(1).strip() if fenced else text


def _json_span(text: str) -> str:
    """From the first ``{`` or ``[`` to the last matching closer: prose around it is dropped."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        raise MalformedOutput("the answer holds no JSON object")
    start = min(starts)
    closer = "}" if text[start] == "{" else "]"
    end = text.rfind(closer)
    if end <= start:
        raise MalformedOutput("the JSON in the answer is not closed (cut off?)")
    return text[start : end + 1]


def _python_literal(text: str) -> Any:
    words = re.sub(r"\b(true|false|null)\b", lambda m: _PY_WORDS[m.group(1)], text)
    try:
        return ast.literal_eval(words)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def _normalise_keys(value: Any) -> Any:
    """Keys as meant (``KEY_ALIASES``), and every string storable: a model's ``\\u0000`` or
    lone surrogate escape would fail its job in Postgres (``text.storable``)."""
    if isinstance(value, dict):
        return {
            KEY_ALIASES.get(str(k).strip(), str(k).strip()): _normalise_keys(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_normalise_keys(v) for v in value]
    if isinstance(value, str):
        return storable(value)
    return value


def parse_llm_json(text: str) -> Any:
    """The JSON value in a model's answer, with keys normalised; raises MalformedOutput."""
    span = _json_span(_strip_wrappers(text))
    for candidate in (span, _TRAILING_COMMA.sub(r"\1", span)):
        try:
            return _normalise_keys(json.loads(candidate))
        except RecursionError:
            raise MalformedOutput("the JSON in the answer is nested too deeply") from None
        except ValueError:  # not JSON, or a number past Python's digit limit
            continue
    literal = _python_literal(_TRAILING_COMMA.sub(r"\1", span))
    if isinstance(literal, dict | list):
        return _normalise_keys(literal)
    raise MalformedOutput("the answer is not valid JSON")


def list_under(value: Any, key: str) -> list[Any]:
    """The list the answer holds under ``key``: a bare list, or the only list in an object."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if key in value:
            found = value[key]
            if isinstance(found, list):
                return found
            if isinstance(found, dict):
                return [found]
            raise MalformedOutput(f'"{key}" must be a list')
        if not value:
            return []
        if ITEM_KEYS & value.keys():
            return [value]  # one item, not wrapped in a list
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]  # the list under another name
    raise MalformedOutput(f'expected an object with a "{key}" list')


@dataclass
class Usage:
    """The model calls a piece of work made and the tokens they cost (kept with its task)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.calls += other.calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens


async def ask_json(llm: LLM, prompt: str, read: Callable[[Any], T], usage: Usage) -> T:
    """One call; if the answer cannot be used, one more call that shows the model why."""
    messages = [{"role": "user", "content": prompt}]
    for attempt in (1, 2):
        completion = await llm.complete(messages, json_output=True)
        usage.add(Usage(1, completion.prompt_tokens, completion.completion_tokens))
        try:
            return read(parse_llm_json(completion.text))
        except (MalformedOutput, ValidationError) as error:
            reason = _explain(error)
            log.warning("LLM answer unusable (attempt %d): %s", attempt, reason)
            metrics.llm_failed("unusable_answer")
            if attempt == 2:
                raise MalformedOutput(reason) from error
            messages = [
                *messages,
                {"role": "assistant", "content": completion.text},
                {
                    "role": "user",
                    "content": (
                        f"Your answer could not be used: {reason}. Answer again with only the "
                        "JSON object described above."
                    ),
                },
            ]
    raise AssertionError("unreachable")


def _explain(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}"
    return str(error)
