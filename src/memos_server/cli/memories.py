"""``search``, ``add``, ``users`` and ``reset``: what the service remembers, from a terminal.

They work on the database directly, through the same services the API calls (so an add is stored
and a search ranked exactly as over HTTP), not through a running service: no API key or port to
know, and they work with the service stopped. ``search`` and ``add`` load the embedding model for
that (a few seconds); ``users`` and ``reset`` need only a short-lived connection.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.errors import BadRequest
from memos_server.services.apikeys import choose_project
from memos_server.services.console import list_users
from memos_server.services.erasure import Erasable, erasable, erase
from memos_server.storage.vocabulary import TaskStatus

if TYPE_CHECKING:
    from memos_server.api.schemas.messages import AddMessageRequest
    from memos_server.runtime import Runtime
    from memos_server.settings import Settings

MOST_USERS = 1000


def _time(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment is not None else "-"


async def search(runtime: Runtime, args: Any) -> None:
    from memos_server.filters import parse_filter
    from memos_server.services.search.engine import SearchQuery

    async with runtime.database.session() as session:
        project = await choose_project(session, args.project)
        # Read now: the services may end the session's transaction, and a rollback expires it.
        name, project_id = project.name, project.id
        where = {"conversation_id": args.conversation} if args.conversation else None
        result = await runtime.services.search.search(
            session,
            project_id=project_id,
            query=SearchQuery(
                user_id=args.user,
                query=args.query,
                memory_limit=args.top,
                preference_limit=args.top,
                where=parse_filter(where),
            ),
        )
    found = [*result.facts, *result.preferences]
    if args.json:
        rows = [
            {
                "id": str(s.memory.id),
                "kind": s.memory.kind,
                "memory_type": s.memory.memory_type,
                "text": s.memory.memory_value,
                "score": round(s.relativity, 4),
                "time": (s.memory.memory_time or s.memory.create_time).isoformat(),
                "conversation_id": s.memory.conversation_id,
                "tags": s.memory.tags,
            }
            for s in found
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not found:
        print(f"no memories of user {args.user!r} in project {name!r} match")
        return
    for number, scored in enumerate(found, 1):
        memory = scored.memory
        where_from = f", conversation {memory.conversation_id}" if memory.conversation_id else ""
        print(
            f"{number}. {memory.kind} · score {scored.relativity:.2f} · "
            f"{_time(memory.memory_time or memory.create_time)}{where_from}"
        )
        for line in memory.memory_value.splitlines():
            print(f"   {line}")


def read_add(args: Any) -> AddMessageRequest:
    """The add read from stdin and checked as add/message checks it: before any model loads."""
    from memos_server.api.schemas.messages import AddMessageRequest

    try:
        messages = json.loads(sys.stdin.read())
    except json.JSONDecodeError as error:
        raise BadRequest(f"stdin is not JSON: {error}") from None
    try:
        return AddMessageRequest.model_validate(
            {"user_id": args.user, "conversation_id": args.conversation, "messages": messages}
        )
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in error.errors()
        )
        raise BadRequest(
            'stdin must hold a JSON list of {"role", "content"} messages: ' + problems
        ) from None


async def add(runtime: Runtime, args: Any, body: AddMessageRequest) -> None:
    from memos_server.api.added import settle_added

    async with runtime.database.session() as session:
        project = await choose_project(session, args.project)
        # Read now: the services may end the session's transaction, and a rollback expires it.
        name, project_id = project.name, project.id
        added = await runtime.services.messages.add(
            session, project_id=project_id, request=body.to_add()
        )
        task = await settle_added(session, runtime, added, async_mode=True)
    if args.json:
        answer = {"task_id": str(task.id), "status": task.status, "stored": added.created}
        print(json.dumps(answer | {"messages": len(body.messages)}))
    elif not added.created:
        print(f"the same add was stored lately (task {task.id}, {task.status}): nothing stored")
    else:
        later = " (fine extraction runs in a worker)" if task.status == TaskStatus.RUNNING else ""
        print(
            f"stored {len(body.messages)} message(s) for user {args.user!r} in project "
            f"{name!r}: task {task.id}, {task.status}{later}"
        )


async def users(session: AsyncSession, args: Any) -> None:
    project = await choose_project(session, args.project)
    name, project_id = project.name, project.id
    page = await list_users(session, project_id, 0, MOST_USERS)
    if args.json:
        rows = [
            {
                "user_id": u.user_id,
                "messages": u.messages,
                "conversations": u.conversations,
                "memories": u.facts + u.preferences,
                "facts": u.facts,
                "preferences": u.preferences,
                "last_active": u.last_active.isoformat() if u.last_active else None,
            }
            for u in page.items
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    # The user id last: ids of any width (Chinese ones) then leave the columns aligned.
    columns = "{:>9} {:>14} {:>9} {:>12} {:<17} {}"
    print(
        columns.format("MESSAGES", "CONVERSATIONS", "FACTS", "PREFERENCES", "LAST ACTIVE", "USER")
    )
    for u in page.items:
        print(
            columns.format(
                u.messages, u.conversations, u.facts, u.preferences, _time(u.last_active), u.user_id
            )
        )
    more = page.total - len(page.items)
    print(f"{page.total} user(s) in project {name!r}" + (f", {more} not shown" if more else ""))


def _what(counts: Erasable) -> str:
    return (
        f"{counts.messages} message(s), {counts.memories} memory(ies) with {counts.history} "
        f"history row(s), and {counts.tasks} task(s) (with their jobs and feedback)"
    )


async def reset(session: AsyncSession, settings: Settings, args: Any) -> None:
    project = await choose_project(session, args.project)
    name, project_id = project.name, project.id
    whose = (
        f"user {args.user!r} of project {name!r}"
        if args.user is not None
        else f"all {{users}} user(s) of project {name!r}"
    )
    counts = await erasable(session, project_id, args.user)
    whose = whose.format(users=counts.users)
    await session.commit()  # no transaction held open while a person reads and answers
    if not (counts.messages or counts.memories or counts.history or counts.tasks):
        print(f"nothing to delete for {whose}")
        return
    print(f"reset of {whose} deletes {_what(counts)}.")
    print(f"The project {name!r} and its API keys stay.")
    if not args.yes:
        try:
            answer = await asyncio.to_thread(input, "Type yes to delete: ")
        except EOFError:
            answer = ""
        if answer.strip() != "yes":
            raise SystemExit("nothing deleted")
    deleted = await erase(session, settings, project_id, args.user)
    await session.commit()
    print(f"deleted {_what(deleted)}")
