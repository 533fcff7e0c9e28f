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


# -- NO_PROXY as curl, requests and Go read it ----------------------------------------------------
NO_PROXY_CASES = [
    # (NO_PROXY, target URL, bypassed?)
    ("127.0.0.0/8", "http://127.0.0.1:3001", True),
    ("127.0.0.0/8", "http://127.9.8.7", True),
    ("127.0.0.0/8", "http://10.0.0.1", False),
    ("10.0.0.0/8, 192.168.0.0/16", "http://192.168.4.2:80", True),
    ("::1/128", "http://[::1]:3001", True),
    ("fd00::/8", "http://[fd12::1]", True),
    ("fd00::/8", "http://[fe80::1]", False),
    ("localhost:3001", "http://localhost:3001", True),
    ("localhost:3001", "http://localhost:3002", False),
    ("127.0.0.1:3001", "http://127.0.0.1:3001", True),
    ("127.0.0.1:3001", "http://127.0.0.1:4000", False),
    ("[::1]:3001", "http://[::1]:3001", True),
    ("example.com:443", "https://api.example.com", True),
    ("example.com:443", "http://api.example.com", False),
    (".example.com", "http://api.example.com", True),
    (".example.com", "http://example.com", True),
    ("*.example.com", "http://deep.api.example.com", True),
    ("*.example.com", "http://notexample.com", False),
    ("example.com", "http://notexample.com", False),
    ("example.com", "http://API.Example.COM", True),
    ("*", "http://anything.at.all:9", True),
    (" foo.test , *.example.com ", "http://x.example.com", True),
    ("", "http://example.com", False),
]


@pytest.mark.parametrize(("no_proxy", "url", "bypassed"), NO_PROXY_CASES)
def test_no_proxy_forms(
    monkeypatch: pytest.MonkeyPatch, no_proxy: str, url: str, bypassed: bool
) -> None:
    from conndebug.config import Settings, effective_proxy

    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    expected = None if bypassed else "http://proxy.test:3128"
    assert effective_proxy(Settings(url=url)) == expected
