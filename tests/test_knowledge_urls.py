"""Knowledge-base documents named by URL: refused unless MEMOS_KNOWLEDGE__URL_FETCH is on; then
fetched by the document's job from public addresses only (or those MEMOS_KNOWLEDGE__URL_ALLOW
names), redirects checked again, size and time bounded. A local HTTP server on loopback plays
the document's server; the address checks are also tested one by one."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from memos_server.services.knowledge.addresses import Allowlist, check_address, refusal
from memos_server.services.knowledge.fetch import FetchError, UrlFetcher
from memos_server.settings.knowledge import KnowledgeSettings
from tests.support.api import Api
from tests.support.database import fresh_database, new_api_key
from tests.support.knowledge import create_base, passages_of, settled
from tests.support.service import ServiceThread, make_settings

MAX_BYTES = 20_000
MANUAL = "# 退货政策\n\n收到商品七天内可以无理由退货，运费由买家承担。\n".encode()


class Documents(BaseHTTPRequestHandler):
    """The document server: a manual, redirects (good and bad), a huge body, a slow answer."""

    def log_message(self, *args: object) -> None:
        pass

    def finish(self) -> None:
        # The service hung up on the huge and the slow answers: flushing fails, close anyway.
        with contextlib.suppress(OSError):
            super().finish()
        self.wfile.close()
        self.rfile.close()

    def do_GET(self) -> None:
        port = self.server.server_address[1]
        routes = {
            "/manual.md": lambda: self._send(200, MANUAL, "text/markdown"),
            "/moved": lambda: self._redirect("/manual.md"),
            "/to-metadata": lambda: self._redirect("http://169.254.169.254/latest/meta-data/"),
            "/to-private": lambda: self._redirect("http://10.1.2.3/manual.md"),
            "/to-ipv6-loopback": lambda: self._redirect(f"http://[::1]:{port}/manual.md"),
            "/loop": lambda: self._redirect("/loop"),
            "/huge.txt": self._huge,
            "/slow.txt": self._slow,
            "/missing.md": lambda: self._send(404, b"no", "text/plain"),
        }
        routes.get(self.path, lambda: self._send(404, b"no", "text/plain"))()

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _huge(self) -> None:
        # No Content-Length: only counting the streamed bytes can stop it.
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        try:
            for _ in range(1_000):  # 10 MB if nobody stops reading
                self.wfile.write(b"a" * 10_000)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _slow(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"start ")
        self.wfile.flush()
        time.sleep(2.5)  # longer than the service's read timeout
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(b"x" * 94)


@pytest.fixture(scope="module")
def documents() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Documents)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()  # waits for the handlers' threads


@pytest.fixture(scope="module")
def fetching(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A service that fetches URLs and allows 127.0.0.1 (the test's document server), on a
    database of its own (its worker must not take other tests' jobs)."""
    own_url = fresh_database(pg_url)
    settings = make_settings(
        own_url,
        tmp_path_factory.mktemp("kb-urls"),
        knowledge={
            "url_fetch": True,
            "url_allow": ["127.0.0.1/32"],
            "max_file_bytes": MAX_BYTES,
            "url_read_timeout_s": 1.0,
            "url_total_timeout_s": 10.0,
            "url_max_redirects": 3,
        },
        jobs={"poll_interval_s": 0.2},
    )
    running = ServiceThread(settings)
    running.start()
    with Api(running.base_url, new_api_key(own_url)) as client:
        yield client
    running.stop()


def add_urls(api: Api, base: str, *urls: str) -> list[dict[str, object]]:
    body = {"knowledgebase_id": base, "file": [{"content": url} for url in urls]}
    added: list[dict[str, object]] = api.ok("/add/knowledgebase-file", body)
    return added


def test_urls_are_refused_unless_fetching_is_on(api: Api, documents: str) -> None:
    base = create_base(api)
    body = {"knowledgebase_id": base, "file": [{"content": f"{documents}/manual.md"}]}
    message = api.fails("/add/knowledgebase-file", body, 400, 40000)
    assert "MEMOS_KNOWLEDGE__URL_FETCH" in message
    assert api.ok("/get/knowledgebase-file", {"knowledgebase_id": base})["total"] == 0


def test_an_allowed_url_is_fetched_by_the_job_and_searchable(fetching: Api, documents: str) -> None:
    base = create_base(fetching)
    added = add_urls(fetching, base, f"{documents}/manual.md", f"{documents}/moved")
    # The request answers as the Cloud does: the documents, running, named after the URL.
    assert [(a["name"], a["status"]) for a in added] == [
        ("manual.md", "running"),
        ("moved", "running"),
    ]
    files = settled(fetching, [str(a["id"]) for a in added])
    assert [f["status"] for f in files] == ["completed", "completed"], files
    assert files[0]["size_bytes"] == len(MANUAL)
    # "moved" has no extension: its type is the final URL's (after the redirect).
    assert [f["type"] for f in files] == ["md", "md"]
    found = passages_of(
        fetching.ok(
            "/search/memory",
            {"user_id": "u", "query": "七天内可以退货吗", "knowledgebase_ids": [base]},
        )
    )
    assert found[0]["file_name"] == "manual.md"


def test_refused_and_failed_urls_fail_their_job_with_the_reason(
    fetching: Api, documents: str
) -> None:
    port = documents.rsplit(":", 1)[1]
    base = create_base(fetching)
    cases = {
        f"{documents}/to-metadata": "169.254.169.254, a link-local address",
        f"{documents}/to-private": "10.1.2.3, a private address",
        f"{documents}/to-ipv6-loopback": "::1, a loopback address",
        f"http://[::ffff:10.1.2.3]:{port}/manual.md": "private address (inside the IPv6",
        f"http://[fe80::1]:{port}/manual.md": "link-local",
        "http://0.0.0.0/manual.md": "unspecified",
        f"{documents}/loop": "more than 3 redirects",
        f"{documents}/huge.txt": f"larger than {MAX_BYTES:,} bytes",
        f"{documents}/slow.txt": "timed out (waiting for data)",
        f"{documents}/missing.md": "answered HTTP 404",
        "https://user:secret@example.com/a.md": "user name or password",
    }
    started = time.monotonic()
    added = add_urls(fetching, base, *cases)
    files = settled(fetching, [str(a["id"]) for a in added])
    assert time.monotonic() - started < 30  # the slow and the huge ones were cut short
    for file, (url, reason) in zip(files, cases.items(), strict=True):
        assert file["status"] == "failed", (url, file)
        assert reason in str(file["reason"]), (url, file["reason"])
        assert file["passages"] == 0
    status = fetching.ok("/get/status", {"task_id": added[0]["task_id"]})
    assert "link-local" in status[0]["error"]
    long_url = {"knowledgebase_id": base, "file": [{"content": "http://a.example/" + "x" * 3000}]}
    assert "MEMOS_KNOWLEDGE__URL_MAX_CHARS" in fetching.fails(
        "/add/knowledgebase-file", long_url, 400, 40000
    )


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.1", "private"),
        ("10.255.255.255", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("169.254.169.254", "link-local"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("febf::1", "link-local"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("::", "unspecified"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "address"),  # documentation range: not global
    ],
)
def test_addresses_that_are_not_public_are_refused(address: str, reason: str) -> None:
    found = refusal(ipaddress.ip_address(address))
    assert found is not None
    assert reason in found
    assert check_address(ipaddress.ip_address(address), "h.example", Allowlist()) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "172.32.0.1"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_the_allowlist_names_hosts_and_ranges() -> None:
    allowed = Allowlist.parse(["10.0.0.0/8", " docs.internal. ", "::1", ""])
    assert check_address(ipaddress.ip_address("10.9.8.7"), "x.example", allowed) is None
    assert check_address(ipaddress.ip_address("::ffff:10.9.8.7"), "x.example", allowed) is None
    assert check_address(ipaddress.ip_address("::1"), "x.example", allowed) is None
    assert check_address(ipaddress.ip_address("192.168.0.5"), "DOCS.internal", allowed) is None
    refused = check_address(ipaddress.ip_address("192.168.0.5"), "other.internal", allowed)
    assert refused is not None
    assert "MEMOS_KNOWLEDGE__URL_ALLOW" in refused
    with pytest.raises(ValueError, match="not a host name or CIDR"):
        Allowlist.parse(["10.0.0.0/33"])


class Tls:
    """A certificate authority and one server certificate it signed for ``localhost`` (a DNS
    name only: a check against the address 127.0.0.1 would fail), written as PEM files."""

    def __init__(self, directory: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.now(UTC)

        def certificate(
            subject: str, key: Any, issuer: Any, issuer_key: Any, ca: bool
        ) -> x509.Certificate:
            builder = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                .issuer_name(issuer)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(minutes=5))
                .not_valid_after(now + timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                .add_extension(
                    x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
                )
            )
            if ca:
                builder = builder.add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
                        key_cert_sign=True,
                        crl_sign=True,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
            else:
                builder = builder.add_extension(
                    x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
                ).add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                    critical=False,
                )
            return builder.sign(issuer_key, hashes.SHA256())

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "测试 CA")])
        ca = certificate("测试 CA", ca_key, ca_name, ca_key, ca=True)
        key = ec.generate_private_key(ec.SECP256R1())
        server = certificate("localhost", key, ca_name, ca_key, ca=False)
        pem = serialization.Encoding.PEM
        self.ca = directory / "ca.pem"
        self.ca.write_bytes(ca.public_bytes(pem))
        self.chain = directory / "server.pem"
        self.chain.write_bytes(
            server.public_bytes(pem)
            + key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


class TlsDocuments(Documents):
    """The document server over https, remembering each request's Host header."""

    hosts: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        TlsDocuments.hosts.append(str(self.headers.get("Host")))
        super().do_GET()


@pytest.fixture(scope="module")
def https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Tls, list[str]]]:
    """An https document server on 127.0.0.1, its certificate for ``localhost``; the port, the
    authority, and the TLS server names (SNI) its clients sent."""
    tls = Tls(tmp_path_factory.mktemp("tls"))
    names: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.chain)
    context.sni_callback = lambda _socket, name, _context: names.append(str(name))  # type: ignore[assignment,misc]
    server = ThreadingHTTPServer(("127.0.0.1", 0), TlsDocuments)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], tls, names
    server.shutdown()
    server.server_close()


def fetcher(**settings: Any) -> UrlFetcher:
    return UrlFetcher(KnowledgeSettings(url_fetch=True, url_allow=["127.0.0.1/32"], **settings))


def test_https_sends_the_host_name_and_checks_the_certificate_against_it(
    https: tuple[int, Tls, list[str]],
) -> None:
    """The connection goes to the checked address (127.0.0.1), yet the server is told the host
    (SNI and Host) and its certificate, valid for ``localhost`` only, is checked against that
    name, with the authority of ``URL_CA_BUNDLE``; without it, or by address, it is refused."""
    port, tls, names = https
    trusting = fetcher(url_ca_bundle=tls.ca)
    names.clear()
    TlsDocuments.hosts.clear()
    fetched = asyncio.run(trusting.fetch(f"https://localhost:{port}/manual.md"))
    assert fetched.content == MANUAL
    assert fetched.name == "manual.md"
    assert names == ["localhost"]
    assert TlsDocuments.hosts == [f"localhost:{port}"]

    # By address: the certificate names no address, so it does not fit.
    with pytest.raises(FetchError, match=r"TLS certificate .* could not be verified"):
        asyncio.run(trusting.fetch(f"https://127.0.0.1:{port}/manual.md"))
    # An authority nobody configured: refused, and the reason says where one goes.
    with pytest.raises(FetchError, match="MEMOS_KNOWLEDGE__URL_CA_BUNDLE"):
        asyncio.run(fetcher().fetch(f"https://localhost:{port}/manual.md"))
    # A redirect to another path of the same https host is checked and verified again.
    assert asyncio.run(trusting.fetch(f"https://localhost:{port}/moved")).content == MANUAL


def test_an_unreadable_ca_bundle_is_an_error_at_start(tmp_path: Path) -> None:
    missing = tmp_path / "none.pem"
    with pytest.raises(ValueError, match="MEMOS_KNOWLEDGE__URL_CA_BUNDLE"):
        fetcher(url_ca_bundle=missing)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("不是证书", encoding="utf-8")
    with pytest.raises(ValueError, match="MEMOS_KNOWLEDGE__URL_CA_BUNDLE"):
        fetcher(url_ca_bundle=garbage)
