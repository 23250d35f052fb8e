"""Where the server is and how to reach it: from arguments, else from the environment.

- ``AGENT_RUNTIME_URL``: ``host:port``, ``http://host[:port]`` (plaintext) or
  ``https://host[:port]`` (TLS); default ``http://127.0.0.1:8080``.
- ``AGENT_RUNTIME_API_KEY``: sent as ``authorization: Bearer <key>``; none when empty.
- ``AGENT_RUNTIME_CA_FILE``: a PEM file of root certificates for TLS (default: the system's).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

import grpc

DEFAULT_URL = "http://127.0.0.1:8080"
ENV_URL = "AGENT_RUNTIME_URL"
ENV_API_KEY = "AGENT_RUNTIME_API_KEY"
ENV_CA_FILE = "AGENT_RUNTIME_CA_FILE"

# Reconnect quickly after a dropped connection (a resumed feed waits for it), and notice a dead
# one (no answer to a ping in 10 s) while a feed is idle.
CHANNEL_OPTIONS: List[Tuple[str, object]] = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
]


@dataclass(frozen=True)
class Settings:
    """The resolved connection settings."""

    target: str
    secure: bool
    api_key: str
    root_certificates: Optional[bytes] = None

    @property
    def metadata(self) -> Tuple[Tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.api_key}"),) if self.api_key else ()


def parse_url(url: str) -> Tuple[str, bool]:
    """``(target, secure)`` for a base URL or a bare ``host:port``."""
    url = url.strip()
    if not url:
        raise ValueError("the server URL is empty")
    if "://" not in url:
        return url, False
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL scheme {parts.scheme!r} in {url!r}: use http or https")
    if not parts.hostname:
        raise ValueError(f"no host in the server URL {url!r}")
    if parts.path not in ("", "/") or parts.query:
        raise ValueError(f"the server URL {url!r} must not have a path: gRPC serves at the root")
    secure = scheme == "https"
    port = parts.port or (443 if secure else 80)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{port}", secure


def resolve(
    url: Optional[str] = None,
    api_key: Optional[str] = None,
    root_certificates: Union[bytes, str, None] = None,
    env: Optional[Mapping[str, str]] = None,
) -> Settings:
    """Settings from the arguments; what an argument leaves ``None`` comes from ``env``."""
    env = os.environ if env is None else env
    target, secure = parse_url(url if url is not None else env.get(ENV_URL) or DEFAULT_URL)
    key = api_key if api_key is not None else env.get(ENV_API_KEY, "")
    roots: Optional[bytes]
    if isinstance(root_certificates, bytes):
        roots = root_certificates
    else:
        path = root_certificates if root_certificates is not None else env.get(ENV_CA_FILE)
        roots = None
        if path:
            with open(path, "rb") as f:
                roots = f.read()
    if roots is not None:
        secure = True
    return Settings(target=target, secure=secure, api_key=key, root_certificates=roots)


def _options(extra: Sequence[Tuple[str, object]]) -> List[Tuple[str, object]]:
    names = {name for name, _ in extra}
    return [o for o in CHANNEL_OPTIONS if o[0] not in names] + list(extra)


def sync_channel(settings: Settings, options: Sequence[Tuple[str, object]] = ()) -> grpc.Channel:
    opts = _options(options)
    if settings.secure:
        creds = grpc.ssl_channel_credentials(root_certificates=settings.root_certificates)
        return grpc.secure_channel(settings.target, creds, options=opts)
    return grpc.insecure_channel(settings.target, options=opts)


def aio_channel(settings: Settings, options: Sequence[Tuple[str, object]] = ()):
    opts = _options(options)
    if settings.secure:
        creds = grpc.ssl_channel_credentials(root_certificates=settings.root_certificates)
        return grpc.aio.secure_channel(settings.target, creds, options=opts)
    return grpc.aio.insecure_channel(settings.target, options=opts)
