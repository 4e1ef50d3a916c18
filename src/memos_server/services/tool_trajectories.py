"""Tool memory: the trajectories of the tool calls an add's messages hold, kept verbatim.

An assistant message's ``tool_calls`` entry (``{id, type: "function", function: {name,
arguments}}``) and the ``role: tool`` message answering it (its ``tool_call_id``) are one
trajectory: the call, its result, and the user's request before them, as they were sent. No
model is needed, so fast mode keeps them too, and fine mode leaves them as they are. A tool
message answering no call in the add is a trajectory of its result alone.

Each is a memory of kind ``tool`` (``memory_type`` ``ToolTrajectoryMemory``), searched through
the same two channels as facts; the tool's name and call id are its ``details``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from memos_server.services.memory_views import TOOL_TRAJECTORY_TYPE


class ToolMessage(Protocol):
    @property
    def role(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def tool_call_id(self) -> str | None: ...
    @property
    def tool_calls(self) -> list[dict[str, Any]] | None: ...


@dataclass(frozen=True)
class Trajectory:
    name: str
    call_id: str | None
    arguments: str
    result: str | None
    request: str | None  # the user's message before the call
    message_indexes: tuple[int, ...]

    @property
    def key(self) -> str:
        return self.name or "tool"

    @property
    def value(self) -> str:
        lines = [f"user: {self.request}"] if self.request else []
        if self.name:
            lines.append(f"tool_call: {self.name}({self.arguments})")
        if self.result is not None:
            lines.append(f"tool_result: {self.result}")
        return "\n".join(lines)

    def details(self) -> dict[str, Any]:
        return {
            "tool_type": TOOL_TRAJECTORY_TYPE,
            "tool_name": self.name,
            "tool_call_id": self.call_id,
        }


def call_parts(entry: dict[str, Any]) -> tuple[str, str, str | None]:
    """(name, arguments, id) of one ``tool_calls`` entry, however loosely it was written."""
    function = entry.get("function")
    if not isinstance(function, dict):
        function = entry
    name = str(function.get("name") or "")
    arguments = function.get("arguments", "")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False, sort_keys=True)
    call_id = entry.get("id")
    return name, arguments, str(call_id) if call_id is not None else None


def trajectories(messages: Sequence[ToolMessage]) -> list[Trajectory]:
    """The add's tool trajectories, in the order their calls were made. A call's result is the
    first tool message after it with its id that no earlier call took: some agents number their
    calls afresh each turn ("call_0" again), and each call keeps its own result."""
    results: dict[str, list[int]] = {}
    for i, m in enumerate(messages):
        if m.role == "tool" and m.tool_call_id:
            results.setdefault(m.tool_call_id, []).append(i)
    answered: set[int] = set()
    found: list[Trajectory] = []
    request: str | None = None
    for i, message in enumerate(messages):
        if message.role == "user" and message.text.strip():
            request = message.text.strip()
        for entry in message.tool_calls or []:
            if not isinstance(entry, dict):
                continue
            name, arguments, call_id = call_parts(entry)
            at = next(
                (j for j in results.get(call_id or "", ()) if j > i and j not in answered), None
            )
            result = messages[at].text if at is not None else None
            if at is not None:
                answered.add(at)
            indexes = (i,) if at is None else (i, at)
            found.append(Trajectory(name, call_id, arguments, result, request, indexes))
    for i, message in enumerate(messages):
        if message.role == "tool" and i not in answered and message.text.strip():
            found.append(Trajectory("", message.tool_call_id, "", message.text, None, (i,)))
    return found
