"""Fetching a knowledge-base document by URL, in its ``knowledge`` job (``URL_FETCH`` on).

A URL a client names is a request the server makes on its behalf, so each hop is checked before
anything is sent:

- only ``http`` and ``https``, no credentials in the URL;
- the host is resolved **once**, every address it resolves to must be public
  (``addresses.check_address``: private, loopback, link-local, CGNAT, multicast, reserved and
  unspecified are refused, IPv4 inside IPv6 judged as IPv4) unless ``URL_ALLOW`` names the host
  or the range, and the connection goes to the address that was checked: the request is sent to
  the IP itself with the ``Host`` header and, for https, the TLS server name (SNI, and so the
  certificate check against the host name) set to the host, with certifi's authorities and those
  of ``URL_CA_BUNDLE``. DNS is not asked again, so a name that resolves to a
  public address for the check and a private one for the connection (DNS rebinding) gets nowhere;
- no proxy from the environment (``trust_env=False``): a proxy would connect elsewhere;
- redirects are followed by hand, at most ``URL_MAX_REDIRECTS``, each new URL checked like the
  first;
- the body is streamed and dropped past ``MAX_FILE_BYTES`` (decoded: a compressed body cannot
  grow past the limit either), a declared ``Content-Length`` over it refused before reading;
- connect and read timeouts per hop, and one total for the whole fetch.

Any failure raises ``FetchError`` with a reason a client can act on; the job fails the document
with it. URLs are never logged (they may carry tokens).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import unquote

import certifi
import httpx

from memos_server.services.knowledge.addresses import Address, Allowlist, check_address
from memos_server.settings.knowledge import KnowledgeSettings

REDIRECTS = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}


class FetchError(Exception):
    """A document URL that could not or may not be fetched; ``str()`` is the reason."""


@dataclass(frozen=True)
class Fetched:
    content: bytes
    name: str | None  # the last path segment of the final URL, if any


@dataclass(frozen=True)
class Target:
    """One hop: where to connect (the checked address) and what to say the host is."""

    url: httpx.URL  # the URL with its host replaced by the checked address
    host: str
    host_header: str
    tls: bool


def tls_context(settings: KnowledgeSettings) -> ssl.SSLContext:
    """Certificates checked as httpx checks them (certifi's authorities, the host name), plus the
    operator's authorities; an unreadable bundle is an error at start-up."""
    context = ssl.create_default_context(cafile=certifi.where())
    if settings.url_ca_bundle is not None:
        try:
            context.load_verify_locations(cafile=str(settings.url_ca_bundle))
        except (OSError, ssl.SSLError) as error:
            raise ValueError(
                f"MEMOS_KNOWLEDGE__URL_CA_BUNDLE: cannot read {settings.url_ca_bundle}: {error}"
            ) from None
    return context


def _tls_failure(error: BaseException) -> BaseException | None:
    """The TLS error under an httpx error, if one is."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def file_name(url: httpx.URL) -> str | None:
    segment = unquote(url.path.rsplit("/", 1)[-1]).strip()
    return segment or None


class UrlFetcher:
    def __init__(self, settings: KnowledgeSettings) -> None:
        self.settings = settings
        self.allowed = Allowlist.parse(settings.url_allow)  # malformed: an error at start-up
        self.tls = tls_context(settings)

    async def fetch(self, url: str) -> Fetched:
        limits = self.settings
        timeout = httpx.Timeout(
            connect=limits.url_connect_timeout_s,
            read=limits.url_read_timeout_s,
            write=limits.url_read_timeout_s,
            pool=limits.url_connect_timeout_s,
        )
        try:
            async with asyncio.timeout(limits.url_total_timeout_s):
                async with httpx.AsyncClient(
                    trust_env=False, follow_redirects=False, timeout=timeout, verify=self.tls
                ) as client:
                    return await self._follow(client, url)
        except TimeoutError:
            raise FetchError(
                f"fetching the URL took longer than {limits.url_total_timeout_s:g} s "
                "(MEMOS_KNOWLEDGE__URL_TOTAL_TIMEOUT_S)"
            ) from None
        except httpx.TimeoutException as error:
            kind = "connecting" if isinstance(error, httpx.ConnectTimeout) else "waiting for data"
            raise FetchError(f"the document's server timed out ({kind})") from None
        except httpx.HTTPError as error:
            if isinstance(failed := _tls_failure(error), ssl.SSLCertVerificationError):
                raise FetchError(
                    "the TLS certificate of the document's server could not be verified "
                    f"({failed.verify_message}; an internal authority goes in "
                    "MEMOS_KNOWLEDGE__URL_CA_BUNDLE)"
                ) from None
            raise FetchError(f"the URL could not be fetched ({type(error).__name__})") from None

    async def _follow(self, client: httpx.AsyncClient, url: str) -> Fetched:
        current = self._parse(url)
        for _ in range(self.settings.url_max_redirects + 1):
            target = await self._target(current)
            request = client.build_request(
                "GET",
                target.url,
                headers={"Host": target.host_header, "Accept": "*/*", "User-Agent": "memos-server"},
                extensions={"sni_hostname": target.host} if target.tls else {},
            )
            response = await client.send(request, stream=True)
            try:
                if response.status_code in REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(f"HTTP {response.status_code} without a Location")
                    current = self._parse(str(current.join(location)))
                    continue
                if response.status_code != 200:
                    raise FetchError(f"the document's server answered HTTP {response.status_code}")
                return Fetched(await self._body(response), file_name(current))
            finally:
                await response.aclose()
        raise FetchError(
            f"more than {self.settings.url_max_redirects} redirects "
            "(MEMOS_KNOWLEDGE__URL_MAX_REDIRECTS)"
        )

    def _parse(self, raw: str) -> httpx.URL:
        try:
            url = httpx.URL(raw)
        except httpx.InvalidURL:
            raise FetchError("not a valid URL") from None
        if url.scheme not in DEFAULT_PORTS:
            raise FetchError(f"only http and https URLs are fetched, not {url.scheme or 'none'}")
        if not url.host:
            raise FetchError("the URL names no host")
        if url.userinfo:
            raise FetchError("a URL with a user name or password is not fetched")
        return url

    async def _target(self, url: httpx.URL) -> Target:
        host = url.host
        port = url.port or DEFAULT_PORTS[url.scheme]
        addresses = await self._resolve(host, port)
        for address in addresses:
            reason = check_address(address, host, self.allowed)
            if reason is not None:
                raise FetchError(reason)
        address = addresses[0]
        host_header = host if url.port is None else f"{host}:{url.port}"
        if ":" in host:  # an IPv6 literal host
            host_header = f"[{host}]" if url.port is None else f"[{host}]:{url.port}"
        return Target(
            url=url.copy_with(host=str(address), port=port),
            host=host,
            host_header=host_header,
            tls=url.scheme == "https",
        )

    async def _resolve(self, host: str, port: int) -> list[Address]:
        """Every address ``host`` stands for, asked once (an IP literal is itself)."""
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError:
            raise FetchError(f"the host {host} could not be resolved") from None
        addresses: list[Address] = []
        for _, _, _, _, sockaddr in found:
            # An IPv6 sockaddr may carry a zone (fe80::1%eth0): the address is before it.
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise FetchError(f"the host {host} could not be resolved")
        return addresses

    async def _body(self, response: httpx.Response) -> bytes:
        limit = self.settings.max_file_bytes
        over = f"the document is larger than {limit:,} bytes (MEMOS_KNOWLEDGE__MAX_FILE_BYTES)"
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(over)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                raise FetchError(over)
        if not body:
            raise FetchError("the URL answered an empty document")
        return bytes(body)
