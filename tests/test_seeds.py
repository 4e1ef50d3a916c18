"""The product pages' Python snippets work against the service with only the key and URL changed.

The snippets are read from ``../shared/seeds/`` (beside the checkout) and run unmodified except
for the two ``os.environ[...] = ...`` lines, with ``requests``, as a user would run them.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import ROOT
from tests.support.service import ServiceThread
from tests.test_sdk_contract import sdk_python

SEEDS = ROOT.parent / "shared" / "seeds"
_ENV_LINE = re.compile(r'os\.environ\["(MEMOS_API_KEY|MEMOS_BASE_URL)"\] = "[^"]*"')


def snippets(path: Path) -> list[str]:
    """The Python programs on a page: fenced ```python blocks, or plain text from
    ``import os`` to the first ``print(`` line."""
    text = path.read_text(encoding="utf-8")
    fenced = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    if fenced:
        return fenced
    found: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("import os"):
            current = []
        if current is not None:
            current.append(line)
            if line.startswith("print("):
                found.append("\n".join(current) + "\n")
                current = None
    return found


def configured(snippet: str, base_url: str, api_key: str) -> str:
    values = {"MEMOS_API_KEY": api_key, "MEMOS_BASE_URL": base_url}
    replaced, count = _ENV_LINE.subn(
        lambda m: f'os.environ["{m.group(1)}"] = "{values[m.group(1)]}"', snippet
    )
    assert count == 2, "a seed snippet no longer sets MEMOS_API_KEY and MEMOS_BASE_URL"
    return replaced


def printed_response(stdout: str) -> Any:
    line = stdout.strip().splitlines()[-1].removeprefix("result: ")
    return ast.literal_eval(line)


@pytest.mark.parametrize("page", ["quickstart-cloud.txt", "overview.md"])
def test_seed_snippets_run_against_the_service(
    page: str, service: ServiceThread, api_key: str
) -> None:
    if not SEEDS.is_dir():
        pytest.skip(f"the product pages are not beside the checkout ({SEEDS})")
    programs = snippets(SEEDS / page)
    assert [("add/message" in p, "search/memory" in p) for p in programs][:2] == [
        (True, False),
        (False, True),
    ]

    responses = []
    for program in programs:
        completed = subprocess.run(
            [sdk_python(), "-c", configured(program, service.base_url, api_key)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        responses.append(printed_response(completed.stdout))

    assert all(response["code"] == 0 for response in responses), responses
    added, searched = responses[0], responses[1]
    assert added["data"]["success"] is True
    memories = searched["data"]["memory_detail_list"]
    assert memories, "the search after the add found nothing"
    assert all(m["conversation_id"] == "0610" for m in memories)
    if len(responses) > 2:  # the quickstart also reads the raw history back
        history = responses[2]["data"]["message_detail_list"]
        assert history[0]["content"] == "我想暑假出去玩,你能帮我推荐下吗?"
