"""The parser reads every malformed shape models are known to produce."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from memos_server.llm.json_output import MalformedOutput, list_under, parse_llm_json
from memos_server.services.fine.extraction import MAX_ITEMS, ExtractedFact, ExtractedPreference
from memos_server.services.fine.feedback_answer import read_operations

EXPECTED = {"memories": [{"memory_key": "k", "memory_value": "v", "tags": ["a", "b"]}]}

SHAPES = {
    "plain": '{"memories": [{"memory_key": "k", "memory_value": "v", "tags": ["a", "b"]}]}',
    "think block": '<think>The user said k... so {"memories": []}?</think>\n'
    '{"memories": [{"memory_key": "k", "memory_value": "v", "tags": ["a", "b"]}]}',
    "unclosed think": '{"memories": [{"memory_key": "k", "memory_value": "v", "tags": ["a", '
    '"b"]}]}<think>never closed',
    "code fence": '```json\n{"memories": [{"memory_key": "k", "memory_value": "v", '
    '"tags": ["a", "b"]}]}\n```',
    "prose around": 'Here are the memories:\n{"memories": [{"memory_key": "k", '
    '"memory_value": "v", "tags": ["a", "b"]}]}\nHope this helps!',
    "trailing commas": '{"memories": [{"memory_key": "k", "memory_value": "v", '
    '"tags": ["a", "b",],},],}',
    "single quotes": (
        "{'memories': [{'memory_key': 'k', 'memory_value': 'v', 'tags': ['a', 'b']}]}"
    ),
    "python words": "{'memories': [{'memory_key': 'k', 'memory_value': 'v', 'tags': ['a', 'b'], "
    "'memory_time': null}]}",
    "keys in Chinese": '{"记忆": [{"标题": "k", "内容": "v", "标签": ["a", "b"]}]}',
}


@pytest.mark.parametrize("shape", SHAPES)
def test_malformed_shapes_are_read(shape: str) -> None:
    value = parse_llm_json(SHAPES[shape])
    items = list_under(value, "memories")
    assert [{k: item[k] for k in ("memory_key", "memory_value", "tags")} for item in items] == (
        EXPECTED["memories"]
    )


def test_a_bare_list_instead_of_an_object() -> None:
    value = parse_llm_json('[{"memory_key": "k", "memory_value": "v", "tags": ["a", "b"]}]')
    assert list_under(value, "memories") == EXPECTED["memories"]


def test_a_single_item_instead_of_a_list() -> None:
    value = parse_llm_json('{"memory_key": "k", "memory_value": "v", "tags": ["a", "b"]}')
    assert list_under(value, "memories") == EXPECTED["memories"]


def test_another_wrapper_key() -> None:
    value = parse_llm_json('{"results": [{"memory_key": "k", "memory_value": "v", "tags": []}]}')
    assert len(list_under(value, "memories")) == 1


@pytest.mark.parametrize(
    "text",
    ["", "I could not find any memories.", '{"memories": [{"memory_key": "k", "memory_val', "{{}"],
)
def test_what_is_not_json_raises_with_a_reason(text: str) -> None:
    with pytest.raises(MalformedOutput):
        parse_llm_json(text)


def test_fields_are_cleaned_where_the_meaning_is_clear() -> None:
    fact = ExtractedFact.model_validate(
        {
            "memory_key": "k",
            "memory_value": "v",
            "tags": "旅游，广州, 酒店",
            "memory_type": "user_memory",
            "memory_time": "2025-06-14T10:00:00",
            "confidence": "90",
        }
    )
    assert fact.tags == ["旅游", "广州", "酒店"]
    assert fact.memory_type == "UserMemory"
    assert str(fact.memory_time) == "2025-06-14"
    assert fact.confidence == 0.9


def test_tags_are_words_and_numbers_and_never_the_services_own() -> None:
    fact = ExtractedFact.model_validate(
        {
            "memory_key": "k",
            "memory_value": "v",
            "tags": [{"a": 1}, ["x", "y"], None, True, "MODE:fast", 5, "mode:fine", "旅游"],
        }
    )
    assert fact.tags == ["5", "旅游"]


def test_a_preferences_reasoning_is_held_to_the_preferences_length() -> None:
    preference = ExtractedPreference.model_validate(
        {"preference_type": "explicit_preference", "preference": "不吃辣", "reasoning": "R" * 9000}
    )
    assert len(preference.reasoning) == 2000
    assert (
        ExtractedPreference.model_validate(
            {"preference_type": "explicit_preference", "preference": "x", "reasoning": ["a"]}
        ).reasoning
        == ""
    )


def test_preferences_accept_the_kind_in_either_language() -> None:
    answer = parse_llm_json('{"偏好": [{"type": "隐性偏好", "内容": "x"}]}')
    preference = ExtractedPreference.model_validate(list_under(answer, "preferences")[0])
    assert (preference.preference_type, preference.preference) == ("implicit_preference", "x")
    with pytest.raises(ValueError, match="explicit_preference"):
        ExtractedPreference.model_validate({"preference_type": "maybe", "preference": "x"})


@pytest.mark.parametrize(
    "text",
    [
        '{"memories": ' + "[" * 100_000 + "]" * 100_000 + "}",  # past the parser's recursion
        '{"memories": [{"memory_key": "k", "confidence": ' + "9" * 5000 + "}]}",  # past 4300 digits
    ],
)
def test_json_past_pythons_limits_is_unusable_not_a_crash(text: str) -> None:
    with pytest.raises(MalformedOutput):
        parse_llm_json(text)


def test_strings_the_model_escapes_are_made_storable() -> None:
    answer = parse_llm_json(
        '{"memories": [{"memory_key": "k\\u0000", "memory_value": "a\\ud800b"}]}'
    )
    assert answer == {"memories": [{"memory_key": "k", "memory_value": "a\ufffdb"}]}


def test_blank_texts_are_unusable_and_a_date_that_is_none_is_left_out() -> None:
    for blank in ("   ", "\u3000 ", " \n "):
        with pytest.raises(ValidationError, match="at least 1 character"):
            ExtractedFact.model_validate({"memory_key": blank, "memory_value": "v"})
        with pytest.raises(ValidationError, match="at least 1 character"):
            ExtractedFact.model_validate({"memory_key": "k", "memory_value": blank})
        with pytest.raises(ValidationError, match="at least 1 character"):
            ExtractedPreference.model_validate(
                {"preference_type": "explicit_preference", "preference": blank}
            )
    for odd in ("0000-01-01", "10000-01-01", "2025-06", "June 2025", 20250614):
        fact = ExtractedFact.model_validate({"memory_key": "k", "memory_value": "v",
                                             "memory_time": odd})  # fmt: skip
        assert fact.memory_time is None, odd


def test_a_feedback_answer_keeps_at_most_as_many_operations_as_an_extraction() -> None:
    adds = {"operations": [{"action": "ADD", "memory_value": f"第{i}条"} for i in range(3000)]}
    decisions = read_operations(adds, [], "zh")
    assert len(decisions) == MAX_ITEMS
