"""extract/memory."""

from __future__ import annotations

from fastapi import APIRouter

from memos_server.api.deps import EmbedderDep, ProjectDep, RuntimeDep, SettingsDep
from memos_server.api.responses import ERRORS
from memos_server.api.schemas.common import Envelope
from memos_server.api.schemas.extract import (
    EXTRACT_ANSWER_EXAMPLES,
    ExtractMemoryData,
    ExtractMemoryItem,
    ExtractMemoryRequest,
    ExtractPreferenceItem,
)
from memos_server.services.fine.extract_memory import (
    ExtractedBy,
    ExtractionType,
    Said,
    extract_memories,
)
from memos_server.services.limits import check_speakers
from memos_server.text.windows import speaker_of

router = APIRouter(tags=["extract"], responses=ERRORS)

FAST_NOTE = (
    "no LLM is configured: these are the windows of raw turns add/message would store in fast "
    "mode; preferences need an LLM"
)


@router.post(
    "/extract/memory",
    response_model=Envelope[ExtractMemoryData],
    summary="Extract memories without storing them",
    operation_id="extract_memory",
    responses={200: {"content": {"application/json": {"examples": EXTRACT_ANSWER_EXAMPLES}}}},
)
async def extract_memory(
    body: ExtractMemoryRequest,
    _project: ProjectDep,
    settings: SettingsDep,
    embedder: EmbedderDep,
    runtime: RuntimeDep,
) -> Envelope[ExtractMemoryData]:
    """The fact and preference memories an add of these messages would make, stored nowhere.

    With an LLM configured, fine mode's extraction (`mode: fine`), without reconciling against
    the user's memories; without one, the windows of raw turns fast mode would store and no
    preferences (`mode: fast`, and a `note` says so). Recalled-memory blocks, reasoning and this
    service's own instructions in a message are left out, as an add leaves them out.
    """
    # A speaker's id and name are held to the limits an add holds them to.
    check_speakers(settings.limits, [], [(m.role_id, m.role_name) for m in body.messages])
    extracted = await extract_memories(
        settings,
        embedder,
        runtime.llm,
        [
            Said(m.role, m.text, m.chat_time, speaker_of(m.role_name, m.role_id))
            for m in body.messages
        ],
        frozenset(ExtractionType(t) for t in body.extraction_types),
    )
    return Envelope(
        data=ExtractMemoryData(
            memory_detail_list=[
                ExtractMemoryItem(
                    memory_key=f.memory_key,
                    memory_value=f.memory_value,
                    memory_type=f.memory_type,
                    tags=f.tags,
                )
                for f in extracted.facts
            ],
            preference_detail_list=[
                ExtractPreferenceItem(
                    preference=p.preference,
                    reasoning=p.reasoning,
                    preference_type=p.preference_type,
                )
                for p in extracted.preferences
            ],
            mode=extracted.mode.value,
            note=FAST_NOTE if extracted.mode is ExtractedBy.FAST else None,
        )
    )
