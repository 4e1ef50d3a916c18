"""Field types of the export format that hold an imported record to what the service itself
stores: an import writes rows no API request could, so what the API refuses, these refuse.

- Times lie in the service's range (1970 to 9999, UTC): Postgres stores year 0 and 10000, but
  the driver cannot read them back, and every read of the rows would fail.
- Message numbers stay below 2**53: they are the messages' ids in JSON, and a project's counter
  set near the bigint's end by an import would leave no number for the next add.
- A memory's or a passage's text stays under half the words a record may carry: its words are
  at most about twice as long, and a file this service exports must import again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from memos_server.times import in_range

MAX_WORDS_CHARS = 1_000_000
MAX_TEXT_CHARS = MAX_WORDS_CHARS // 2
MAX_MESSAGE_NUMBER = 2**53


def _in_range(moment: datetime) -> datetime:
    if not in_range(moment):
        raise ValueError("is out of range: times lie from 1970-01-01 to 9999-12-31 (UTC)")
    return moment


Time = Annotated[datetime, AfterValidator(_in_range)]
MessageNumber = Annotated[int, Field(ge=1, le=MAX_MESSAGE_NUMBER)]
# A user's id as the API takes it: never empty or blank (no request could read it back).
SubjectId = Annotated[str, StringConstraints(min_length=1, pattern=r"\S")]
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
PreferenceType = Literal["explicit_preference", "implicit_preference"]
Confidence = Annotated[float, Field(ge=0.0, le=1.0)]
