"""Knowledge-base passages in a prompt: their own ``<documents>`` block, apart from the
``<memories>`` block, said to be the project's documents, not things the user said.

instruction, full_instruction and /chat's system prompt put the block (``documents.<lang>.md``)
right after ``</memories>`` when a search found passages, and nothing at all otherwise (the
prompt is then what it was without knowledge bases). A passage stands on one line,
``- [manual.pdf › Returns, p. 3] …``, and everything of it that a document's author wrote (the
text, the heading, the file name) is escaped like a memory (``recalled.py``): no passage can
close the block or start a line of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memos_server.prompts import Language, load_prompt
from memos_server.prompts.recalled import recalled_text

PAGE: dict[Language, str] = {"zh": "第 {page} 页", "en": "p. {page}"}


@dataclass(frozen=True)
class ShownPassage:
    """What a line shows of a passage."""

    file_name: str
    heading: str
    page: int | None
    text: str


def passage_line(passage: ShownPassage, language: Language) -> str:
    where = recalled_text(passage.file_name)
    if passage.heading:
        where += f" › {recalled_text(passage.heading)}"
    if passage.page is not None:
        where += ", " + PAGE[language].format(page=passage.page)
    return f"- [{where}] {recalled_text(passage.text)}"


def documents_block(lines: Sequence[str], language: Language) -> str:
    """The ``<documents>`` block holding these passage lines, or "" when there are none."""
    if not lines:
        return ""
    return load_prompt("documents", language).render(passages="\n".join(lines)).rstrip("\n")
