"""Where the client connects: URLs, the environment, and TLS through a terminating proxy."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from conftest import API_KEY

from agentruntime_client import AgentRuntime, AsyncAgentRuntime, Unavailable, config


@pytest.mark.parametrize(
    "url, target, secure",
    [
        ("127.0.0.1:8080", "127.0.0.1:8080", False),
        ("http://localhost:9000", "localhost:9000", False),
        ("http://example.com", "example.com:80", False),
        ("https://api.example.com", "api.example.com:443", True),
        ("HTTPS://api.example.com:8443/", "api.example.com:8443", True),
        ("http://[::1]:8080", "[::1]:8080", False),
    ],
)
def test_urls(url, target, secure):
    assert config.parse_url(url) == (target, secure)


@pytest.mark.parametrize(
    "url", ["", "ftp://example.com", "https://example.com/v1", "http://:8080", "https://x?a=b"]
)
def test_bad_urls_are_refused(url):
    with pytest.raises(ValueError):
        config.parse_url(url)


def test_arguments_then_environment_then_default(tmp_path: Path):
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"PEM")
    env = {"AGENT_RUNTIME_URL": "http://env-host:1234", "AGENT_RUNTIME_API_KEY": "env-key"}
    s = config.resolve(env=env)
    assert (s.target, s.secure, s.api_key) == ("env-host:1234", False, "env-key")
    assert s.metadata == (("authorization", "Bearer env-key"),)
    s = config.resolve("https://arg-host", "arg-key", env=env)
    assert (s.target, s.secure, s.api_key, s.root_certificates) == ("arg-host:443", True, "arg-key", None)
    s = config.resolve(api_key="", env=env)
    assert s.api_key == "" and s.metadata == ()
    s = config.resolve(env={})
    assert (s.target, s.secure, s.api_key) == ("127.0.0.1:8080", False, "")
    # A CA file (argument or environment) means TLS.
    s = config.resolve(env={"AGENT_RUNTIME_URL": "h:1", "AGENT_RUNTIME_CA_FILE": str(ca)})
    assert (s.secure, s.root_certificates) == (True, b"PEM")
    assert config.resolve("h:1", root_certificates=b"X", env={}).root_certificates == b"X"


class TlsProxy:
    """Terminates TLS (ALPN h2) with a self-signed certificate and forwards to the server."""

    def __init__(self, target: str, cert: Path, key: Path) -> None:
        self._host, port = target.rsplit(":", 1)
        self._port = int(port)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.set_alpn_protocols(["h2"])
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def start():
            self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=ctx)
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()

        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(start(), self.loop)
        assert ready.wait(10)

    async def _handle(self, reader, writer):
        up_reader, up_writer = await asyncio.open_connection(self._host, self._port)

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, ssl.SSLError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def close(self):
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture()
def tls(server, tmp_path: Path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    proxy = TlsProxy(server.target, cert, key)
    try:
        yield proxy, cert
    finally:
        proxy.close()


def test_tls_with_root_certificates(tls, monkeypatch):
    proxy, cert = tls
    url = f"https://127.0.0.1:{proxy.port}"
    with AgentRuntime(url, api_key=API_KEY, root_certificates=str(cert)) as client:
        assert client.settings.secure
        assert client.find_profile("demo").name == "demo"
    # The same from the environment, asyncio.
    monkeypatch.setenv("AGENT_RUNTIME_URL", url)
    monkeypatch.setenv("AGENT_RUNTIME_API_KEY", API_KEY)
    monkeypatch.setenv("AGENT_RUNTIME_CA_FILE", str(cert))

    async def main():
        async with AsyncAgentRuntime() as client:
            return (await client.find_profile("demo")).name

    assert asyncio.run(main()) == "demo"
    # Without the certificate, the system's roots do not trust it.
    monkeypatch.delenv("AGENT_RUNTIME_CA_FILE")
    with AgentRuntime(url, api_key=API_KEY, timeout=10) as client:
        with pytest.raises(Unavailable):
            client.find_profile("demo")
