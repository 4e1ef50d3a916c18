"""The 100-page PDF target: time from upload to ``completed``, and passages/s.

    python bench/knowledge_pdf.py [--runs 1]

Starts its own service (embedded Postgres in a temporary folder; MEMOS_* settings of the
environment apply), uploads the 100-page Chinese-and-English PDF the test uses
(``tests.support.knowledge.hundred_page_pdf``), polls ``/get/knowledgebase-file`` every 0.1 s
until the document is done, then checks that the question about page 73 finds it. Prints the
machine, the load average before and after, the time and passages/s of each run.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.search_latency import machine
from tests.support.knowledge import HUNDRED_PAGE_QUERY, hundred_page_pdf


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    from bench.locomo import own_service

    pdf = hundred_page_pdf()
    print(f"machine  : {machine()}")
    print(f"model    : {os.environ.get('MEMOS_EMBEDDING__MODEL', 'the default model')}")
    print(f"document : 100 pages, {len(pdf):,} bytes")
    print(f"load avg : {load()} (before)")
    service, key = own_service(Path(tempfile.mkdtemp(prefix="memos-kb-pdf-")))
    try:
        with httpx.Client(
            base_url=service.base_url, headers={"Authorization": f"Token {key}"}, timeout=120
        ) as client:
            for run in range(1, args.runs + 1):
                once(client, pdf, run)
    finally:
        service.stop()
    print(f"load avg : {load()} (after)")


def once(client: httpx.Client, pdf: bytes, run: int) -> None:
    base = client.post("/create/knowledgebase", json={"knowledgebase_name": f"pdf-{run}"})
    base_id = base.json()["data"]["id"]
    body = {
        "knowledgebase_id": base_id,
        "file": [{"name": "cruise-handbook.pdf", "content": base64.b64encode(pdf).decode()}],
    }
    started = time.perf_counter()
    response = client.post("/add/knowledgebase-file", json=body)
    assert response.json()["code"] == 0, response.text
    [file_id] = [f["id"] for f in response.json()["data"]]
    while True:
        got = client.post("/get/knowledgebase-file", json={"file_ids": [file_id]}).json()
        [detail] = got["data"]["file_detail_list"]
        if detail["status"] != "running":
            break
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    assert detail["status"] == "completed", detail
    passages = detail["passages"]
    found = client.post(
        "/search/memory",
        json={"user_id": "reader", "query": HUNDRED_PAGE_QUERY, "knowledgebase_ids": [base_id]},
    ).json()["data"]["memory_detail_list"]
    top = next(m for m in found if m.get("source") == "knowledgebase")
    print(
        f"run {run}    : {passages} passages, upload to completed {elapsed:.1f} s, "
        f"{passages / elapsed:.1f} passages/s; page 73's answer found on page {top['page']}: "
        f"{'周明远' in top['memory_value']}"
    )


if __name__ == "__main__":
    main()
