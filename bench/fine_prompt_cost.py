"""What one fine-mode add costs in LLM calls and prompt size, for the seeds' conversations.

Renders the exact prompts the service sends (no model needed) and prints, per call, characters and
an estimate of tokens (one per CJK character, one per four other characters; real tokenizers of
Chinese models use fewer per character, so this errs high).

    python bench/fine_prompt_cost.py
"""

from __future__ import annotations

from datetime import UTC, datetime

from memos_server.embedding.base import estimate_tokens
from memos_server.prompts import load_prompt
from memos_server.services.fine.extraction import render_conversation
from memos_server.text.language import detect_language
from memos_server.text.windows import Turn

FAMILY_TRIP = [
    ("user", "我想暑假出去玩,你能帮我推荐下吗?"),
    ("assistant", "好的!是自己出行还是和家人朋友一起呢?"),
    ("user", "肯定要带孩子啊,我们家出门都是全家一起。"),
    ("assistant", "明白了,所以你们是父母带孩子一块儿旅行,对吗?"),
    ("user", "对,带上孩子和老人,一般都是全家行动。"),
    ("assistant", "收到,那我会帮你推荐适合家庭出游的目的地。"),
]


def main() -> None:
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


if __name__ == "__main__":
    main()
