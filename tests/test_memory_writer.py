"""The memory writer keeps a memory's search text in step with its key and value."""

from __future__ import annotations

import uuid

from memos_server.services.memory_writer import MemoryText, added_row, new_memory, revise
from memos_server.storage.vocabulary import MemoryKind, MemoryMode
from memos_server.text.tokens import memory_tokens


def test_new_memory_derives_search_text_and_its_add_row() -> None:
    memory = new_memory(
        text=MemoryText("Home city", "The user lives in Beijing"),
        project_id=uuid.uuid4(),
        user_id="u",
        conversation_id="c",
        kind=MemoryKind.FACT,
        mode=MemoryMode.FINE,
        memory_type="UserMemory",
        embedding=[1.0],
        source_message_ids=[7],
        task_id=uuid.uuid4(),
    )
    assert memory.search_text == memory_tokens("Home city", "The user lives in Beijing")
    assert memory.status == "activated"
    row = added_row(memory)
    assert (row.memory_id, row.event, row.new_value) == (memory.id, "ADD", memory.memory_value)
    assert (row.source_message_ids, row.task_id) == ([7], memory.task_id)


def test_revise_moves_search_text_with_key_and_value() -> None:
    memory = new_memory(
        text=MemoryText("Home city", "Beijing"),
        project_id=uuid.uuid4(),
        user_id="u",
        conversation_id=None,
        kind=MemoryKind.FACT,
        mode=MemoryMode.FAST,
        memory_type="UserMemory",
        embedding=[1.0],
        source_message_ids=[1],
    )
    revise(memory, text=MemoryText("Home city", "Shanghai"), embedding=[0.5], more_sources=[2])
    assert memory.memory_value == "Shanghai"
    assert memory.search_text == memory_tokens("Home city", "Shanghai")
    assert (memory.embedding, memory.source_message_ids) == ([0.5], [1, 2])


def test_search_text_made_in_many_threads_at_once_is_the_same() -> None:
    """Adds prepare their memories in worker threads; the English stemmer must not be shared
    between them (it keeps the word it works on in itself)."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    import memos_server.text.tokens as tokens

    rng = random.Random(7)
    suffixes = ["ational", "izations", "fulness", "iveness", "ements", "ically", "ousness"]
    words = [
        "".join(rng.choice("bcdfglmnprst") + rng.choice("aeiou") for _ in range(4))
        + rng.choice(suffixes)
        for _ in range(4000)
    ]
    texts = [" ".join(words[i : i + 20]) for i in range(0, len(words), 20)]
    tokens._stem.cache_clear()  # every word stemmed again, by many threads at once
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda t: memory_tokens("key", t), texts))
    tokens._stem.cache_clear()
    alone = [memory_tokens("key", t) for t in texts]
    assert together == alone
