"""Forgetting: delete/user removes everything of one user in a project, delete/message one
conversation of theirs. Each runs in the request's one transaction (the route commits).

delete/user leaves nothing that names the user or quotes them: messages, memories of every kind
and status, their history (deleted memories' too), their profiles and profile history,
feedback, tasks with their idempotency keys and fingerprints, jobs (a fine job still running
writes nothing: see ``storage/repositories/deletions.py``), and the user's HNSW indexes.

delete/message removes the conversation's messages, its tasks, jobs and feedback, and the
memories made only from its messages (every source among them) or from feedback given in it,
with their whole history: unlike delete/memory it writes no ``DELETE`` row, since history has
no user column and a row quoting them could not be found by a later delete/user. A memory with
sources in another conversation too stays: it is also what the user said elsewhere (an UPDATE
merged them).

Both record the deletion in ``deletions`` without content: the project, a keyed digest of the
ids, the time and the counts. The digest (HMAC-SHA256 keyed by the project id) lets an operator
check a named user against the record, while the table itself names nobody and links no one
across projects. Deleting what is not there succeeds with zero counts (and is recorded too:
the request was made).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.errors import NotFound
from memos_server.services.limits import check_ids
from memos_server.settings import Settings
from memos_server.storage.models import Deletion
from memos_server.storage.repositories.deletions import DeletionRepository
from memos_server.storage.repositories.profiles import ProfileRepository, Subject
from memos_server.storage.repositories.projects import ProjectRepository
from memos_server.storage.repositories.tasks import TaskRepository
from memos_server.storage.vocabulary import ProfileSubject


def subject_digest(project_id: uuid.UUID, user_id: str, conversation_id: str | None = None) -> str:
    """What ``deletions.subject`` holds for this user (and conversation) of this project."""
    named = user_id if conversation_id is None else f"{user_id}\x00{conversation_id}"
    digest = hmac.new(str(project_id).encode(), named.encode(), hashlib.sha256)
    return "hmac-sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class Forgotten:
    deletion_id: int
    counts: dict[str, int]


async def forget_user(
    session: AsyncSession, settings: Settings, project_id: uuid.UUID, user_id: str
) -> Forgotten:
    check_ids(settings.limits, user_id)
    await TaskRepository(session).lock_user(project_id, user_id, exclusive=True)
    deletions = DeletionRepository(session)
    counts = await deletions.forget_user(project_id, user_id)
    subject = Subject(ProfileSubject.USER, user_id)
    counts.update(await ProfileRepository(session).forget_subject(project_id, subject))
    record = await deletions.record(project_id, "user", subject_digest(project_id, user_id), counts)
    return Forgotten(record.id, counts)


async def forget_conversation(
    session: AsyncSession,
    settings: Settings,
    project_id: uuid.UUID,
    user_id: str,
    conversation_id: str,
) -> Forgotten:
    check_ids(settings.limits, user_id, conversation_id)
    await TaskRepository(session).lock_user(project_id, user_id, exclusive=True)
    deletions = DeletionRepository(session)
    counts = {
        "jobs": await deletions.forget_conversation_jobs(project_id, user_id, conversation_id)
    }
    doomed = await deletions.conversation_memories(project_id, user_id, conversation_id)
    counts.update(await deletions.forget_memories(project_id, doomed))
    counts.update(await deletions.forget_conversation_rows(project_id, user_id, conversation_id))
    record = await deletions.record(
        project_id,
        "conversation",
        subject_digest(project_id, user_id, conversation_id),
        counts,
    )
    return Forgotten(record.id, counts)


async def find_deletions(
    session: AsyncSession, project: str, user_id: str, conversation_id: str | None = None
) -> list[Deletion]:
    """The recorded deletions of this user (or conversation) in the project named ``project``:
    what an operator shows when asked whether someone was forgotten."""
    found = await ProjectRepository(session).get_by_name(project)
    if found is None:
        raise NotFound(f"no project named {project!r}")
    subject = subject_digest(found.id, user_id, conversation_id)
    return await DeletionRepository(session).find(found.id, subject)
