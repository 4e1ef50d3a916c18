"""Which characters are Chinese, Japanese or Korean: one definition for every module that treats
them apart (segmenting, language detection, titles, token estimates).

Han ideographs (CJK unified, extension A, compatibility) are what jieba segments and what makes
a text Chinese; kana and Hangul join them where the question is only "one token per character?".
"""

from __future__ import annotations

import re

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
KANA = "\u3040-\u30ff"
HANGUL = "\uac00-\ud7af"

HAN_CHAR = re.compile(f"[{HAN}]")
# Characters a subword model sees about one token each, and a title counts one by one.
WIDE_CHAR = re.compile(f"[{HAN}{KANA}{HANGUL}]")
