"""The proxy variables are read as urllib.request reads them (without importing it)."""

from __future__ import annotations

import os
import urllib.request

import pytest

from conndebug.config import _scan_proxies

CASES = [
    {},
    {"NO_PROXY": "*"},
    {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:2"},
    {"HTTPS_PROXY": "http://s:3", "no_proxy": "localhost", "FTP_PROXY": "http://f:4"},
    {"HTTP_PROXY": "http://a:1", "REQUEST_METHOD": "GET"},
    {"http_proxy": "http://a:1", "REQUEST_METHOD": "GET"},
    {"http_proxy": "", "HTTP_PROXY": "http://a:1"},
    {"Http_Proxy": "http://mixed:1", "ALL_PROXY": "socks5://x:2"},
]


@pytest.mark.parametrize("variables", CASES)
def test_proxy_variables_are_read_as_urllib_reads_them(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]
) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert _scan_proxies() == urllib.request.getproxies_environment()
