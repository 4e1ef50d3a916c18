"""The words beside the prompts that a model or a user reads, one table per word, per language.

Keyed by the stored words (``storage.vocabulary``), so a row's column finds its label directly.
"""

from __future__ import annotations

from memos_server.prompts import Language
from memos_server.storage.vocabulary import MemoryKind, PreferenceType

# What stands where a list of memories is empty (a prompt never shows a bare heading).
NO_MEMORIES: dict[Language, str] = {"zh": "（无）", "en": "(none)"}

# A memory's kind on its line of the feedback prompt.
KIND_NAMES: dict[Language, dict[str, str]] = {
    "zh": {MemoryKind.FACT: "事实", MemoryKind.PREFERENCE: "偏好"},
    "en": {MemoryKind.FACT: "fact", MemoryKind.PREFERENCE: "preference"},
}

# A preference's type on its line of /chat's prompt and of instruction / full_instruction.
PREFERENCE_LABELS: dict[Language, dict[str, str]] = {
    "zh": {PreferenceType.EXPLICIT: "显性", PreferenceType.IMPLICIT: "隐性"},
    "en": {PreferenceType.EXPLICIT: "explicit", PreferenceType.IMPLICIT: "implicit"},
}

# Before the reasoning an implicit preference was inferred from.
BECAUSE: dict[Language, str] = {"zh": "推断依据：", "en": "inferred from: "}

# The key (title) of the memory a user's feedback becomes.
FEEDBACK_KEYS: dict[Language, str] = {"zh": "用户反馈", "en": "User feedback"}

# Whose viewpoint a fine-mode fact states: its text starts with one of these, the user's first.
VIEWPOINTS: dict[Language, tuple[str, str]] = {
    "zh": ("[user观点]", "[assistant观点]"),
    "en": ("[user viewpoint]", "[assistant viewpoint]"),
}

# search/memory's ``preference_note``: how an answer should use the preferences found.
PREFERENCE_NOTES: dict[Language, str] = {
    "zh": "请在回答中遵循以上用户偏好：显性偏好是用户明确表达的，必须遵守；隐性偏好是推断的，"
    "在不与用户当前要求冲突时参考。",
    "en": "Respect the user preferences above: explicit ones were stated by the user and must "
    "be followed; implicit ones were inferred and should guide the answer unless the user's "
    "current request says otherwise.",
}

# What stands for a profile field that holds no value yet, on its line of the profile prompt.
EMPTY_FIELD: dict[Language, str] = {"zh": "（空）", "en": "(empty)"}
