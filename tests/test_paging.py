"""A page far past the last: empty, however far (OFFSET is a bigint Postgres would overflow)."""

from __future__ import annotations

import pytest

from tests.support.api import Api
from tests.support.knowledge import create_base

FAR = [2**40, 2**62, 2**63, 10**30]


@pytest.mark.parametrize("page", FAR)
def test_a_page_far_past_the_last_is_empty(api: Api, page: int) -> None:
    api.ok(
        "/add/message",
        {
            "user_id": "pager",
            "conversation_id": "c",
            "messages": [{"role": "user", "content": "我住在杭州"}],
        },
    )
    template = {"name": "画像", "metadata": {"基本信息": {"城市": {"value": ""}}}}
    api.ok("/add/profile_template", template)
    base = create_base(api, "paged")

    memories = api.ok("/get/memory", {"user_id": "pager", "page": page})
    templates = api.ok("/list/profile_template", {"page": page})
    files = api.ok("/get/knowledgebase-file", {"knowledgebase_id": base, "page": page})

    assert memories["memory_detail_list"] == []
    assert memories["total"] == 1
    assert templates["profile_templates"] == []
    assert files["file_detail_list"] == []
