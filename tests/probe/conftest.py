"""Fixtures of the probe tests: no proxy from the developer's environment leaks in."""

from __future__ import annotations

import pytest

from conndebug.cli import build_parser
from conndebug.config import Settings, settings_from_args

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)


def probe_settings(url: str, *flags: str) -> Settings:
    """Settings exactly as `conndebug probe URL FLAGS` builds them."""
    args = build_parser("probe").parse_args([url, *flags])
    return settings_from_args(args, url)
