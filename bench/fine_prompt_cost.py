"""What one fine-mode add costs in LLM calls and prompt size, for the seeds' conversations.

Without options: renders the exact prompts the service sends (no model needed) and prints, per
call, characters and an estimate of tokens (one per CJK character, one per four other characters;
real tokenizers of Chinese models use fewer per character, so this errs high).

    python bench/fine_prompt_cost.py

``--views default|all``: runs the service (embedded Postgres, ``memos-server serve``) against the
scripted OpenAI-compatible server of the tests and adds the seed's 6-message conversation twice
for one user, in Chinese and in English. ``default`` sends no ``allow_memory_view``; ``all`` sends
every view and binds the user to a profile template first. Prints, per add, the calls the model
got by kind and their prompt and completion tokens, as the service counted them for the task.
The scripted server answers canned JSON and reports tokens with the same estimate, so prompt
tokens are those of the real prompts (estimated); completion tokens are those of the canned
answers (one memory of each kind), not of a real model's.

    python bench/fine_prompt_cost.py --views all
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest_jobs import database_url  # noqa: E402
from bench.search_latency import machine  # noqa: E402
from memos_server.embedding.base import estimate_tokens  # noqa: E402
from memos_server.prompts import load_prompt  # noqa: E402
from memos_server.services.fine.extraction import render_conversation  # noqa: E402
from memos_server.text.language import detect_language  # noqa: E402
from memos_server.text.windows import Turn  # noqa: E402
from tests.fake_llm import FakeLLM, Reply, reply_json, task_of  # noqa: E402
from tests.support.database import new_api_key, sql  # noqa: E402
from tests.support.process import ServiceProcess  # noqa: E402

FAMILY_TRIP = [
    ("user", "我想暑假出去玩,你能帮我推荐下吗?"),
    ("assistant", "好的!是自己出行还是和家人朋友一起呢?"),
    ("user", "肯定要带孩子啊,我们家出门都是全家一起。"),
    ("assistant", "明白了,所以你们是父母带孩子一块儿旅行,对吗?"),
    ("user", "对,带上孩子和老人,一般都是全家行动。"),
    ("assistant", "收到,那我会帮你推荐适合家庭出游的目的地。"),
]
FAMILY_TRIP_EN = [
    ("user", "I'd like to go on a trip this summer, can you recommend something?"),
    ("assistant", "Sure! Are you travelling alone or with family or friends?"),
    ("user", "The kids come along of course, our family always goes out together."),
    ("assistant", "Got it, so it's parents travelling with their children, right?"),
    ("user", "Yes, with the kids and the grandparents; we usually all go together."),
    ("assistant", "Noted, I'll recommend destinations that suit a family trip."),
]
ALL_VIEWS = ["detail_factual", "preference", "event", "profile", "skill", "tool_memory"]
KINDS = ("facts", "preferences", "events", "profile", "reconcile")


def render_only() -> None:
    when = datetime(2025, 6, 10, 9, 30, tzinfo=UTC)
    turns = [Turn(i, role, text, when) for i, (role, text) in enumerate(FAMILY_TRIP)]
    language = detect_language(text for role, text in FAMILY_TRIP if role == "user")
    conversation = render_conversation(turns)
    total = 0
    print(f"seed conversation: {len(FAMILY_TRIP)} messages, language {language}")
    for task in ("facts", "preferences"):
        prompt = load_prompt(task, language)
        text = prompt.render(conversation=conversation)
        tokens = estimate_tokens(text)
        total += tokens
        print(f"  {prompt.version:<20} {len(text):>5} chars  ~{tokens:>5} prompt tokens")
    reconcile = load_prompt("reconcile", language)
    example = reconcile.render(
        existing="\n".join(f"{i}. [user观点]用户计划暑假带孩子和老人全家出游。" for i in (1, 2, 3)),
        new="[user观点]用户计划在暑假进行一次家庭旅行，携带孩子和老人，全家一起行动。",
    )
    print(
        f"  {reconcile.version:<20} {len(example):>5} chars  ~{estimate_tokens(example):>5} "
        "prompt tokens (per new memory with related ones; 3 shown)"
    )
    print(
        f"first add of a user: 2 calls, ~{total} prompt tokens; later adds: + one reconcile call "
        "per new memory that has related existing memories (none for exact duplicates)"
    )


# The canned answers: one memory of each kind; the second add's are reworded (related, not
# duplicates), so each is reconciled with the first add's.
ANSWERS = {
    "zh": {
        "facts": (
            "[user观点]用户计划暑假带孩子和老人全家出游。",
            "[user观点]用户计划在暑假进行一次家庭旅行，携带孩子和老人，全家一起行动。",
        ),
        "preferences": ("用户出游偏好全家一起行动。", "用户旅行时总是带上孩子和老人一起。"),
        "events": ("用户咨询暑假全家出游的推荐。", "用户请助手推荐适合暑假全家出游的目的地。"),
        "profile": ("出行.同行人", "孩子和老人"),
        "template": {"基本信息": {"所在城市": {"value": ""}}, "出行": {"同行人": {"value": ""}}},
    },
    "en": {
        "facts": (
            "[user's view] The user plans a summer trip with the kids and grandparents.",
            "[user's view] The user plans a family trip this summer with the children and "
            "grandparents, all together.",
        ),
        "preferences": (
            "The user prefers to travel with the whole family.",
            "The user always brings the kids and grandparents when travelling.",
        ),
        "events": (
            "The user asked for summer family trip recommendations.",
            "The user asked the assistant to recommend destinations for a summer family trip.",
        ),
        "profile": ("Travel.Companions", "kids and grandparents"),
        "template": {"Basics": {"City": {"value": ""}}, "Travel": {"Companions": {"value": ""}}},
    },
}


def script_for(language: str, add: int) -> dict[str, Reply]:
    canned = ANSWERS[language]
    fact, preference, event = (canned[k][add] for k in ("facts", "preferences", "events"))
    path, value = canned["profile"]
    return {
        "facts": reply_json({"memories": [{"memory_key": "trip", "memory_value": fact}]}),
        "preferences": reply_json(
            {
                "preferences": [
                    {
                        "preference_type": "explicit_preference",
                        "preference": preference,
                        "reasoning": fact,
                    }
                ]
            }
        ),
        "events": reply_json(
            {
                "events": [
                    {
                        "event_key": "trip",
                        "event_value": event,
                        "event_time": [],
                        "event_date": None,
                        "event_location": [],
                        "event_roles": [],
                    }
                ]
            }
        ),
        "profile": reply_json({"updates": [{"path": path, "new_value": value}]}),
        "reconcile": reply_json({"action": "NONE", "id": None}),
    }


def by_kind(llm: FakeLLM, answers: dict[str, Reply]) -> dict[str, tuple[int, int, int]]:
    """Calls, prompt and completion tokens per kind, counted as the scripted server reports."""
    rows: dict[str, tuple[int, int, int]] = {}
    for request in llm.calls():
        kind = task_of(request)
        reply = answers.get(kind)
        prompt = sum(estimate_tokens(m.get("content") or "") for m in request["messages"])
        completion = estimate_tokens(reply.content) if reply is not None else 0
        calls, p, c = rows.get(kind, (0, 0, 0))
        rows[kind] = (calls + 1, p + prompt, c + completion)
    return rows


def wait_done(client: httpx.Client, task_id: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        [status] = client.post("/get/status", json={"task_id": task_id}).json()["data"]
        if status["status"] != "running":
            assert status["status"] == "completed", status
            return
        assert time.monotonic() < deadline, "the fine job did not finish"
        time.sleep(0.2)


def measure(views: str) -> None:
    llm = FakeLLM()
    llm.start()
    workdir = Path(tempfile.mkdtemp(prefix="memos-bench-"))
    url = database_url(workdir)
    env = {
        "MEMOS_DATABASE__URL": url,
        "MEMOS_LLM__BASE_URL": llm.base_url,
        "MEMOS_LLM__MODEL": "scripted",
        "MEMOS_JOBS__POLL_INTERVAL_S": "0.2",
    }
    service = ServiceProcess(workdir, "serve", **env).start()
    key = new_api_key(url)
    print(f"machine: {machine()}")
    print(f"views: {views} ({', '.join(ALL_VIEWS) if views == 'all' else 'none named'})")
    try:
        with httpx.Client(
            base_url=service.base_url, headers={"Authorization": f"Token {key}"}, timeout=60
        ) as client:
            for language, seed in (("zh", FAMILY_TRIP), ("en", FAMILY_TRIP_EN)):
                run_language(client, llm, url, views, language, seed)
    finally:
        service.stop()
        llm.stop()


def run_language(
    client: httpx.Client,
    llm: FakeLLM,
    url: str,
    views: str,
    language: str,
    seed: list[tuple[str, str]],
) -> None:
    user = f"bench-{language}-{views}"
    body: dict[str, Any] = {"user_id": user, "async_mode": True}
    if views == "all":
        body["allow_memory_view"] = ALL_VIEWS
        template = client.post(
            "/add/profile_template",
            json={"name": f"bench {language}", "metadata": ANSWERS[language]["template"]},
        ).json()["data"]["profile_template_id"]
        bound = client.post(
            "/bind/profile_template",
            json={"bind_list": [{"user_id": user, "profile_template_id": template}]},
        )
        assert bound.json()["code"] == 0, bound.text
    messages = [{"role": role, "content": text} for role, text in seed]
    for add in (0, 1):
        answers = script_for(language, add)
        llm.script(answers)
        sent = {**body, "conversation_id": f"trip-{add}", "messages": messages}
        response = client.post("/add/message", json=sent).json()
        assert response["code"] == 0, response
        task_id = response["data"]["task_id"]
        wait_done(client, task_id)
        [task] = sql(
            url,
            "SELECT llm_calls, prompt_tokens, completion_tokens FROM tasks WHERE id = :t",
            t=task_id,
        )
        rows = by_kind(llm, answers)
        which = "first add" if add == 0 else "second add (reworded memories)"
        print(f"\n{language}, {which}: {len(seed)} messages")
        print(f"  {'kind':<12} {'calls':>5} {'prompt':>7} {'completion':>10}")
        for kind in (*KINDS, *sorted(set(rows) - set(KINDS))):
            calls, prompt, completion = rows.get(kind, (0, 0, 0))
            print(f"  {kind:<12} {calls:>5} {prompt:>7} {completion:>10}")
        print(
            f"  {'task total':<12} {task['llm_calls']:>5} {task['prompt_tokens']:>7} "
            f"{task['completion_tokens']:>10}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--views",
        choices=("default", "all"),
        help="run the service against the scripted LLM with no views named, or all of them",
    )
    args = parser.parse_args()
    if args.views is None:
        render_only()
    else:
        measure(args.views)


if __name__ == "__main__":
    main()
