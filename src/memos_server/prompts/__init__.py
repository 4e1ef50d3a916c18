"""Prompts, one file per task and language (``<task>.<zh|en>.md``), each with its version.

The first line of a file is ``version: <id>``; the version is stored with every memory the
prompt produced. Placeholders are ``$name`` (string.Template), so JSON braces need no escaping.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template
from typing import Literal

Language = Literal["zh", "en"]


@dataclass(frozen=True)
class Prompt:
    version: str
    template: Template

    def render(self, **values: str) -> str:
        return self.template.substitute(values)


@cache
def load_prompt(task: str, language: Language) -> Prompt:
    text = resources.files(__package__).joinpath(f"{task}.{language}.md").read_text("utf-8")
    header, _, body = text.partition("\n")
    if not header.startswith("version: "):
        raise ValueError(f"prompt {task}.{language}.md must start with 'version: <id>'")
    return Prompt(version=header.removeprefix("version: ").strip(), template=Template(body))
