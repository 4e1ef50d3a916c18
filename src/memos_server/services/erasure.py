"""``memos-server reset``: what a reset of a project (or of one of its users) deletes, and the
deletion. The project and its API keys are never part of it.

A reset is forgetting (``services/forget.py``) done for one user or for every user of the
project: the same locks, the same order (jobs first, so a worker applying one writes nothing
after), every table, the users' vector indexes, and a deletion record each.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.services.forget import forget_user
from memos_server.settings import Settings
from memos_server.storage.repositories.erasure import Erasable, ErasureRepository

__all__ = ["Erasable", "erasable", "erase"]


async def erasable(session: AsyncSession, project_id: uuid.UUID, user_id: str | None) -> Erasable:
    """What ``erase`` would delete now."""
    return await ErasureRepository(session).count(project_id, user_id)


async def erase(
    session: AsyncSession, settings: Settings, project_id: uuid.UUID, user_id: str | None
) -> Erasable:
    """Forget the user, or every user of the project, each in a transaction of its own (one
    transaction would hold a lock per user at once, more than Postgres's lock table holds for
    a project of thousands). What was deleted."""
    repository = ErasureRepository(session)
    before = await repository.count(project_id, user_id)
    users = [user_id] if user_id is not None else await repository.users(project_id)
    await session.commit()
    for user in users:
        await forget_user(session, settings, project_id, user)
        await session.commit()
    return before
