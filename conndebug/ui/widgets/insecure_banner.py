"""A loud banner across the top while TLS certificates are not verified (``--insecure``)."""

from __future__ import annotations

from textual.widgets import Static


class InsecureBanner(Static):
    """Shown only with ``--insecure``: anyone in the middle can read and change the traffic."""

    DEFAULT_CSS = """
    InsecureBanner {
        dock: top;
        height: 1;
        width: 1fr;
        text-style: bold;
        content-align: center middle;
    }
    """

    def __init__(self) -> None:
        super().__init__(
            "⚠ TLS VERIFICATION OFF (--insecure): anyone in between can read and change "
            "this connection ⚠",
            id="insecure-banner",
        )
