"""Repeated adds: an ``Idempotency-Key`` (scoped to the project and the endpoint), the same
request again without one, identical adds arriving together, and a repeat recognised before the
embedding model runs."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from memos_server.app import API_PREFIX
from tests.support.api import Api
from tests.support.conversations import SEED_HOTEL
from tests.support.database import new_api_key
from tests.support.service import ServiceThread

ADD = "/add/message"


def add_body(content: str = "我住在北京", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "user_id": "u1",
        "conversation_id": "c1",
        "messages": [{"role": "user", "content": content}],
    }
    body.update(changes)
    return body


def keyed(api: Api, path: str, body: dict[str, Any], key: str) -> httpx.Response:
    return api.http.post(path, json=body, headers={"Idempotency-Key": key})


def stored_contents(api: Api, user: str = "u1", conversation: str = "c1") -> list[Any]:
    history = api.ok(
        "/get/message",
        {"user_id": user, "conversation_id": conversation, "message_limit_number": 50},
    )
    return [m["content"] for m in history["message_detail_list"]]


def test_hardening_03_an_empty_idempotency_key_is_no_key(api: Api) -> None:
    contents = ["我住在北京", "我喜欢喝咖啡", "I work as a nurse"]
    tasks = [Api.data_of(keyed(api, ADD, add_body(text), ""))["task_id"] for text in contents]

    assert len(set(tasks)) == 3
    assert stored_contents(api) == contents


def test_hardening_03_a_key_reused_with_another_request_is_refused(api: Api) -> None:
    first = Api.data_of(keyed(api, ADD, add_body("我住在北京"), "order-1"))
    again = Api.data_of(keyed(api, ADD, add_body("我住在北京"), "order-1"))
    assert again["task_id"] == first["task_id"]

    changed = [
        add_body("我住在上海"),  # another body
        add_body("我住在北京", user_id="u2"),  # another user
        add_body("我住在北京", conversation_id="c2"),
        add_body("我住在北京", tags=["travel"]),  # the same messages, other metadata
        add_body("我住在北京", info={"source": "app"}),
    ]
    for body in changed:
        message = Api.error_of(keyed(api, ADD, body, "order-1"), 422, 40000)
        assert "Idempotency-Key was already used on add/message" in message
    assert stored_contents(api) == ["我住在北京"]
    assert stored_contents(api, user="u2") == []

    feedback = {"user_id": "u1", "conversation_id": "c1", "feedback_content": "我搬到上海了"}
    first_feedback = Api.data_of(keyed(api, "/add/feedback", feedback, "fb-1"))
    other = dict(feedback, feedback_content="我换工作了")
    Api.error_of(keyed(api, "/add/feedback", other, "fb-1"), 422, 40000)
    again = Api.data_of(keyed(api, "/add/feedback", feedback, "fb-1"))
    assert again["task_id"] == first_feedback["task_id"]


def test_hardening_03_a_key_is_scoped_to_its_endpoint_and_project(
    api: Api, service: ServiceThread, pg_url: str
) -> None:
    message = Api.data_of(keyed(api, ADD, add_body("我住在北京"), "shared-key"))
    feedback = Api.data_of(
        keyed(
            api,
            "/add/feedback",
            {"user_id": "u1", "conversation_id": "c1", "feedback_content": "我搬到上海了"},
            "shared-key",
        )
    )
    assert feedback["task_id"] != message["task_id"]
    status = api.ok("/get/status", {"task_id": feedback["task_id"]})
    assert status[0]["status"] == "completed"

    with Api(service.base_url, new_api_key(pg_url)) as other:
        elsewhere = Api.data_of(keyed(other, ADD, add_body("我住在广州"), "shared-key"))
        assert elsewhere["task_id"] != message["task_id"]
        assert stored_contents(other) == ["我住在广州"]
    assert stored_contents(api) == ["我住在北京"]


def test_hardening_03_identical_adds_with_and_without_a_key_are_one_add(api: Api) -> None:
    # One after the other, in both orders.
    unkeyed_first = Api.data_of(api.post(ADD, add_body(conversation_id="c1")))
    then_keyed = Api.data_of(keyed(api, ADD, add_body(conversation_id="c1"), "k-1"))
    keyed_first = Api.data_of(keyed(api, ADD, add_body(conversation_id="c2"), "k-2"))
    then_unkeyed = Api.data_of(api.post(ADD, add_body(conversation_id="c2")))
    assert then_keyed["task_id"] == unkeyed_first["task_id"]
    assert then_unkeyed["task_id"] == keyed_first["task_id"]

    # All at once: several rounds of eight identical adds, half of them keyed.
    for round_ in range(3):
        conversation = f"together-{round_}"
        body = add_body(messages=SEED_HOTEL, conversation_id=conversation)
        tasks = send_together(api, body, [{"Idempotency-Key": conversation}, {}] * 4)

        assert len(set(tasks)) == 1, tasks
        stored = stored_contents(api, conversation=conversation)
        assert stored == [m["content"] for m in SEED_HOTEL]


def send_together(api: Api, body: dict[str, Any], headers: list[dict[str, str]]) -> list[str]:
    """Send one add per entry of ``headers``, all released at the same moment; their tasks."""
    start = threading.Barrier(len(headers))
    tasks: list[str] = []

    def send(extra: dict[str, str]) -> None:
        start.wait()
        tasks.append(Api.data_of(api.http.post(ADD, json=body, headers=extra))["task_id"])

    threads = [threading.Thread(target=send, args=(extra,)) for extra in headers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tasks) == len(headers)
    return tasks


def embedded_texts(service: ServiceThread) -> float:
    root = service.base_url.removesuffix(API_PREFIX)
    text = httpx.get(f"{root}/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "memos_embedding_batch_texts_sum":
                return float(sample.value)
    return 0.0


def test_hardening_13_a_keyed_repeat_is_answered_without_embedding_again(
    api: Api, service: ServiceThread
) -> None:
    sentence = "我们全家计划暑假去广州旅游，孩子想去长隆野生动物世界，老人想去陈家祠看看岭南建筑。"
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": sentence * 25} for i in range(6)
    ]
    assert sum(len(m["content"]) for m in messages) >= 6000
    body = add_body(messages=messages, conversation_id="long")

    before = embedded_texts(service)
    started = time.monotonic()
    first = Api.data_of(keyed(api, ADD, body, "long-add"))
    first_s = time.monotonic() - started
    embedded = embedded_texts(service)
    assert embedded > before  # the first add embeds its windows

    started = time.monotonic()
    again = Api.data_of(keyed(api, ADD, body, "long-add"))
    again_s = time.monotonic() - started
    unkeyed = Api.data_of(api.post(ADD, body))  # a repeat without the key, too

    assert again["task_id"] == unkeyed["task_id"] == first["task_id"]
    assert embedded_texts(service) == embedded  # no text embedded for either repeat
    assert again_s < first_s
