"""delete/user and delete/message: forgetting a user or a conversation, for good."""

from __future__ import annotations

from fastapi import APIRouter

from memos_server.api.deps import ProjectDep, RuntimeDep, SessionDep
from memos_server.api.exact_numbers import ExactNumbersRoute
from memos_server.api.responses import ERRORS
from memos_server.api.schemas.common import Envelope
from memos_server.api.schemas.forget import DeleteMessageRequest, DeleteUserRequest, DeletionData
from memos_server.services.forget import Forgotten, forget_conversation, forget_user

router = APIRouter(tags=["forgetting"], responses=ERRORS, route_class=ExactNumbersRoute)


def _data(forgotten: Forgotten) -> DeletionData:
    return DeletionData(success=True, deletion_id=forgotten.deletion_id, deleted=forgotten.counts)


@router.post(
    "/delete/user",
    response_model=Envelope[DeletionData],
    summary="Forget a user",
    operation_id="delete_user",
)
async def delete_user(
    body: DeleteUserRequest, project: ProjectDep, session: SessionDep, runtime: RuntimeDep
) -> Envelope[DeletionData]:
    """Delete everything of the user in the key's project, in one transaction.

    Messages, memories of every kind and status with their history (deleted memories' too),
    feedback, tasks, queued and running jobs (a fine job finishing later writes nothing), and
    the user's vector indexes. The deletion is recorded without content: the project, a keyed
    digest of the user id, the time and the counts. A user with nothing stored answers success
    with zero counts.
    """
    runtime.reads.wrote(project, body.user_id)
    forgotten = await forget_user(session, runtime.settings, project, body.user_id)
    return Envelope(data=_data(forgotten))


@router.post(
    "/delete/message",
    response_model=Envelope[DeletionData],
    summary="Delete a conversation's messages",
    operation_id="delete_message",
)
async def delete_message(
    body: DeleteMessageRequest, project: ProjectDep, session: SessionDep, runtime: RuntimeDep
) -> Envelope[DeletionData]:
    """Delete one conversation of the user: its messages, and the memories made only from them.

    Also the conversation's tasks, jobs and feedback, and the feedback memories given in it.
    A memory with sources in another conversation too is kept. Each deleted memory gets a
    ``DELETE`` history row, as delete/memory writes; the deletion is recorded without content.
    """
    runtime.reads.wrote(project, body.user_id)
    forgotten = await forget_conversation(
        session, runtime.settings, project, body.user_id, body.conversation_id
    )
    return Envelope(data=_data(forgotten))
