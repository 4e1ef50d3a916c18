"""Words for the full-text channel: jieba for Chinese, stemmed lower-case words for English.

``index_tokens`` cuts Chinese in search mode, which also emits the shorter words inside a long
one (中华人民共和国 → 中华, 人民, 共和国, …), so a query word matches inside a longer phrase.
English words are lower-cased, stop words dropped, and Snowball-stemmed (plans, planning → plan).
Mixed text works: each run is cut by its own rules. Stored as space-separated tokens, indexed by
Postgres as a ``simple`` tsvector, so both sides see exactly these tokens.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from functools import cache, lru_cache
from importlib.metadata import version
from typing import Any

from memos_server.text.writing_systems import HAN, HAN_CHAR

_RUNS = re.compile(f"[{HAN}]+|[A-Za-z0-9]+(?:'[A-Za-z]+)?")

STOP_WORDS_EN = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "i'm",
        "you're",
        "it's",
        "don't",
        "what's",
        "that's",
        "let's",
        # The negations of the auxiliaries above (as in NLTK's English list): "wouldn't" was a
        # word while "would" was not.
        "aren't",
        "couldn't",
        "didn't",
        "doesn't",
        "hadn't",
        "hasn't",
        "haven't",
        "isn't",
        "mightn't",
        "mustn't",
        "needn't",
        "shan't",
        "shouldn't",
        "wasn't",
        "weren't",
        "won't",
        "wouldn't",
    ]
)
STOP_WORDS_ZH = frozenset(
    [
        "的",
        "了",
        "和",
        "是",
        "在",
        "我",
        "你",
        "他",
        "她",
        "它",
        "我们",
        "你们",
        "他们",
        "这",
        "那",
        "有",
        "也",
        "就",
        "都",
        "而",
        "及",
        "与",
        "或",
        "一个",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "么",
        "着",
        "过",
        "会",
        "能",
        "要",
        "想",
        "对",
        "把",
        "被",
        "给",
        "让",
        "从",
        "向",
        "到",
        "说",
        "很",
        "还",
        "又",
        "个",
        "些",
        "什么",
        "怎么",
        "哪",
        "哪里",
        "为什么",
        "如何",
        "请",
        "帮",
        "一下",
        "可以",
        "没有",
        "不",
    ]
)

# Words that say how sure the asker is, not what about: left out of queries only ("Would Caroline
# likely pursue writing?": Snowball stems "likely" to "like", which then matches every "I'd like"
# in the user's memories). Checked before stemming, so "like" itself stays a query word.
HEDGES_EN = frozenset(["likely", "probably", "possibly", "perhaps", "maybe", "might"])
HEDGES_ZH = frozenset(["可能", "也许", "或许"])

# jieba's HMM (its guess at words not in the dictionary) costs the square of the length of an
# unbroken run of Chinese characters: 32,000 took 11 s. Written Chinese breaks every few dozen
# characters; a longer run is cut into pieces of this many, at the price of a word split at a cut.
MAX_RUN_CHARS = 200

_lock = threading.Lock()
_jieba: Any = None


def _segmenter() -> Any:
    global _jieba
    with _lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba = jieba
    return _jieba


def warm_up() -> None:
    """Load jieba's dictionary now (about a second) rather than on the first request."""
    _segmenter()


@lru_cache(maxsize=50_000)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)  # type: ignore[no-any-return]


_STEMMERS = threading.local()


def _stemmer() -> Any:
    """This thread's stemmer: a snowball stemmer keeps the word it works on in itself, so two
    threads sharing one (adds prepared in worker threads) corrupt each other's words (an
    IndexError mid-word, seen as a 500 under concurrent adds)."""
    stemmer = getattr(_STEMMERS, "stemmer", None)
    if stemmer is None:
        import snowballstemmer

        stemmer = _STEMMERS.stemmer = snowballstemmer.stemmer("english")
    return stemmer


def _tokens(text: str, *, for_index: bool) -> list[str]:
    out: list[str] = []
    for run in _RUNS.findall(text):
        if HAN_CHAR.match(run):
            jieba = _segmenter()
            cut = jieba.lcut_for_search if for_index else jieba.lcut
            for start in range(0, len(run), MAX_RUN_CHARS):
                words = cut(run[start : start + MAX_RUN_CHARS])
                out.extend(
                    w
                    for w in words
                    if w not in STOP_WORDS_ZH and w.strip() and (for_index or w not in HEDGES_ZH)
                )
        else:
            word = run.lower()
            if word in STOP_WORDS_EN or (not for_index and word in HEDGES_EN):
                continue
            out.append(_stem(word.removesuffix("'s").replace("'", "")))
    return out


@cache
def words_version() -> str:
    """What makes a text's words here: a digest of this module's rules (the runs, the stop
    words, the longest run) and the versions of jieba and Snowball. Words made under the same
    version are the words this instance would make; an import keeps the words a file carries
    only then (``services/portability``), and segments the text again otherwise."""
    rules = "\n".join(
        [_RUNS.pattern, str(MAX_RUN_CHARS), *sorted(STOP_WORDS_EN), *sorted(STOP_WORDS_ZH)]
    )
    digest = hashlib.sha256(rules.encode()).hexdigest()[:12]
    return f"{digest}/jieba-{version('jieba')}/snowball-{version('snowballstemmer')}"


def index_tokens(text: str) -> str:
    """The text as stored for the full-text channel."""
    return " ".join(_tokens(text, for_index=True))


def memory_tokens(key: str, value: str) -> str:
    """What a memory is found by: its title and its text."""
    return index_tokens(f"{key}\n{value}")


def query_tokens(text: str) -> list[str]:
    """The distinct words of a query, in order, without the words that only hedge it."""
    return list(dict.fromkeys(_tokens(text, for_index=False)))
