"""``memos-server reset``: what a reset of a project (or of one of its users) deletes, and the
deletion. The project and its API keys are never part of it."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.repositories.erasure import Erasable, ErasureRepository

__all__ = ["Erasable", "erasable", "erase"]


async def erasable(session: AsyncSession, project_id: uuid.UUID, user_id: str | None) -> Erasable:
    """What ``erase`` would delete now."""
    return await ErasureRepository(session).count(project_id, user_id)


async def erase(session: AsyncSession, project_id: uuid.UUID, user_id: str | None) -> Erasable:
    """Delete the project's (or the user's) messages, memories, history and tasks; the caller
    commits. What was deleted."""
    return await ErasureRepository(session).erase(project_id, user_id)
