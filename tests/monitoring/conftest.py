"""Fixtures of the monitoring tests: no proxy from the developer's environment leaks in."""

from __future__ import annotations

import pytest

from tests.probe.conftest import PROXY_VARIABLES


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
