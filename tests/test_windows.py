"""Fast-mode windows: pure functions, no database."""

from __future__ import annotations

from memos_server.text.windows import Turn, build_windows, short_title


def words(text: str) -> int:
    return len(text.split())


def build(turns: list[Turn], max_turns: int = 4, max_tokens: int = 50) -> list[object]:
    return build_windows(turns, max_turns=max_turns, max_tokens=max_tokens, count_tokens=words)  # type: ignore[return-value]


def test_turns_are_grouped_up_to_the_turn_limit() -> None:
    turns = [Turn(i, "user" if i % 2 == 0 else "assistant", f"turn {i}") for i in range(6)]
    windows = build_windows(turns, max_turns=4, max_tokens=50, count_tokens=words)
    assert [w.message_indexes for w in windows] == [[0, 1, 2, 3], [4, 5]]
    assert windows[0].text == "user: turn 0\nassistant: turn 1\nuser: turn 2\nassistant: turn 3"


def test_the_token_budget_closes_a_window_early() -> None:
    turns = [Turn(0, "user", "a " * 20), Turn(1, "assistant", "b " * 20), Turn(2, "user", "c")]
    windows = build_windows(turns, max_turns=4, max_tokens=30, count_tokens=words)
    assert [w.message_indexes for w in windows] == [[0], [1, 2]]


def test_a_turn_over_the_budget_is_split_into_numbered_parts() -> None:
    text = " ".join(f"Sentence {i} is here." for i in range(30))
    windows = build_windows([Turn(0, "user", text)], max_turns=4, max_tokens=20, count_tokens=words)
    assert len(windows) > 1
    assert all(words(w.text) <= 20 for w in windows)
    assert " ".join(w.text.removeprefix("user: ") for w in windows) == text
    assert [w.key.rsplit(" ", 1)[1] for w in windows] == [
        f"({i}/{len(windows)})" for i in range(1, len(windows) + 1)
    ]


def test_a_sentence_with_no_breaks_is_cut_inside() -> None:
    text = "x" * 1000
    windows = build_windows(
        [Turn(0, "user", text)], max_turns=4, max_tokens=60, count_tokens=lambda t: len(t) // 10
    )
    assert "".join(w.text.removeprefix("user: ") for w in windows) == text
    assert all(len(w.text) // 10 <= 60 for w in windows)


def test_only_user_and_assistant_words_are_remembered() -> None:
    turns = [
        Turn(0, "system", "be nice"),
        Turn(1, "user", "hello"),
        Turn(2, "tool", "42"),
        Turn(3, "assistant", "   "),
    ]
    [window] = build_windows(turns, max_turns=4, max_tokens=50, count_tokens=words)
    assert window.text == "user: hello"
    assert window.memory_type == "UserMemory"
    assert build_windows(turns[:1], max_turns=4, max_tokens=50, count_tokens=words) == []


def test_titles_are_short_and_taken_from_the_user() -> None:
    assert short_title("I'm planning a summer trip with my kids and my parents. Also more.") == (
        "I'm planning a summer trip with my kids"
    )
    assert (
        short_title("我暑假定好去广州旅游，住宿的话有哪些连锁酒店可选？") == "我暑假定好去广州旅游"
    )
    assert short_title("对,带上孩子和老人,一般都是全家行动。") == "带上孩子和老人"
    assert short_title("我选七天") == "我选七天"
    assert short_title("...") == "..."
    turns = [Turn(0, "assistant", "Welcome back!"), Turn(1, "user", "Book the usual hotel.")]
    [window] = build_windows(turns, max_turns=4, max_tokens=50, count_tokens=words)
    assert window.key == "Book the usual hotel"
    assert window.memory_type == "LongTermMemory"


def test_a_second_tiling_skips_its_first_turns() -> None:
    turns = [Turn(i, "user" if i % 2 == 0 else "assistant", f"turn {i}") for i in range(8)]
    shifted = build_windows(turns, max_turns=4, max_tokens=50, count_tokens=words, skip=2)
    assert [w.message_indexes for w in shifted] == [[2, 3, 4, 5], [6, 7]]
    # Turns that are not spoken do not count towards the skip.
    noisy = [
        Turn(0, "system", "be nice"),
        *[Turn(i + 1, t.role, t.text) for i, t in enumerate(turns)],
    ]
    shifted = build_windows(noisy, max_turns=4, max_tokens=50, count_tokens=words, skip=2)
    assert [w.message_indexes for w in shifted] == [[3, 4, 5, 6], [7, 8]]
