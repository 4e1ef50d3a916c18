"""Skills uploaded through add/message (``is_upload_skill: true``).

Each message of such an add is one skill file in the Cloud's ``SKILL.md`` shape: a front matter
with ``name`` and ``description`` between ``---`` lines, then its body (procedure, experience,
preferences, examples). It comes as the message's text, or as a ``file`` part whose
``file_data`` is the markdown in base64 (``data:text/markdown;base64,...`` or bare). Either way
it is at most ``MEMOS_LIMITS__MAX_MESSAGE_CHARS`` characters, like any message. ZIP packages and
URLs are not read (40006).

A skill is a memory of kind ``skill``: its name is the key, the whole file the value (so both
search channels see all of it), its name and description its ``details``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from memos_server.errors import BadRequest, TooLong, UnsupportedType
from memos_server.settings import LimitSettings
from memos_server.text.storable import UNSTORABLE

_FRONT = re.compile(r"\A\s*---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_FIELD = re.compile(r"^([A-Za-z_]+)\s*:\s*(.*)$")


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    markdown: str
    message_index: int

    def details(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description}


def _front_matter(markdown: str) -> dict[str, str]:
    match = _FRONT.match(markdown)
    if match is None:
        return {}
    fields: dict[str, str] = {}
    for line in match.group(1).splitlines():
        found = _FIELD.match(line.strip())
        if found:
            fields[found.group(1).lower()] = found.group(2).strip().strip("\"'")
    return fields


def _file_markdown(index: int, part: dict[str, Any], limits: LimitSettings) -> str:
    file = part.get("file")
    data = str(file.get("file_data") or "") if isinstance(file, dict) else ""
    if data.startswith(("http://", "https://")) or data.lower().startswith("data:application/zip"):
        raise UnsupportedType(
            f"messages[{index}]: a skill is uploaded as markdown (text, or base64 file_data); "
            "ZIP packages and URLs are not read"
        )
    payload = data.split(",", 1)[1] if data.startswith("data:") and "," in data else data
    if len(payload) > limits.max_message_chars * 4 // 3 + 4:
        raise TooLong(f"messages[{index}] skill is longer than {limits.max_message_chars} chars")
    try:
        markdown = base64.b64decode(payload, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest(f"messages[{index}] file_data is not base64 UTF-8 markdown") from None
    if UNSTORABLE.search(markdown):  # as the text of a message is held to
        raise BadRequest(f"messages[{index}] file_data holds a NUL character or a lone surrogate")
    return markdown


def skills_of(
    messages: Sequence[tuple[str, list[dict[str, Any]] | None]], limits: LimitSettings
) -> list[Skill]:
    """The skills of an upload: one per message (its text, else its file part). A message
    without a front matter naming ``name`` and ``description`` is refused (40000)."""
    found: list[Skill] = []
    for index, (text, parts) in enumerate(messages):
        files = [p for p in parts or [] if p.get("type") == "file"]
        markdown = _file_markdown(index, files[0], limits) if files else text
        if len(markdown) > limits.max_message_chars:
            raise TooLong(
                f"messages[{index}] skill is longer than {limits.max_message_chars} characters"
            )
        fields = _front_matter(markdown)
        name, description = fields.get("name", ""), fields.get("description", "")
        if not name or not description:
            raise BadRequest(
                f"messages[{index}] is not a skill: it needs a front matter with name and "
                "description (---\\nname: ...\\ndescription: ...\\n---)"
            )
        found.append(Skill(name[:200], description[:2000], markdown.strip(), index))
    return found
