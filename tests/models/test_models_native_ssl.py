"""The native transport's TLS trust: SSL_CERT_FILE / SSL_CERT_DIR, loaded once per process."""

from __future__ import annotations

import asyncio
import shutil
import ssl
from pathlib import Path

import pytest

from llmctl.models import _native

SYSTEM_BUNDLE = Path(ssl.get_default_verify_paths().openssl_cafile)


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    if not SYSTEM_BUNDLE.is_file():
        pytest.skip("no system CA bundle to copy")
    path = tmp_path / "ca.pem"
    shutil.copyfile(SYSTEM_BUNDLE, path)
    return path


def test_without_a_bundle_aiohttp_default_verification_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    assert _native._ssl_context() is True


def test_every_session_shares_one_context_per_bundle(monkeypatch: pytest.MonkeyPatch, bundle: Path) -> None:
    """Issue 27: each session loaded SSL_CERT_FILE again (~4% of the native path's CPU)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    loads = 0
    real = ssl.create_default_context

    def counting(*args: object, **kwargs: object) -> ssl.SSLContext:
        nonlocal loads
        loads += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl, "create_default_context", counting)

    async def sessions() -> list[object]:
        made = [_native._new_session(10, force_close=flag) for flag in (False, True, False)]
        try:
            return [s.connector._ssl for s in made]  # type: ignore[union-attr]
        finally:
            for s in made:
                await s.close()

    contexts = asyncio.run(sessions())
    assert isinstance(contexts[0], ssl.SSLContext)
    assert all(c is contexts[0] for c in contexts)
    assert loads <= 1


def test_another_or_a_changed_bundle_is_loaded_again(monkeypatch: pytest.MonkeyPatch, bundle: Path) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    first = _native._ssl_context()
    assert _native._ssl_context() is first
    other = bundle.with_name("other.pem")
    shutil.copyfile(bundle, other)
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    assert _native._ssl_context() is not first
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    bundle.write_bytes(bundle.read_bytes() + b"\n")  # edited in place: size and mtime change
    assert _native._ssl_context() is not first
