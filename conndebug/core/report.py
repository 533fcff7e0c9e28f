"""Reports a customer can attach to a ticket: JSON or Markdown, always redacted.

A report is built from generic pieces, so the probe (one section per URL) and the TUI's monitor
session report (``s``) share it::

    section = ReportSection(title=url, verdict=verdict, steps=steps, connection={...},
                            environment=environment_info(settings), history=events)
    write_report(Path("ticket.md"), [section], kind="probe")

Every string goes through a :class:`~conndebug.core.redact.Redactor` (tokens, cookies,
Authorization values, credentials in proxy URLs) unless it was made with ``show_secrets``.
:func:`check_report_path` validates the file name before any work starts (``.md`` or ``.json``,
else a ConfigError).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from conndebug import __version__
from conndebug.config import Settings, effective_proxy
from conndebug.core.errors import ConfigError
from conndebug.core.events import Event, iso_utc
from conndebug.core.redact import Redactor
from conndebug.core.text import visible

__all__ = [
    "INSECURE_WARNING",
    "PROXY_VARIABLES",
    "ReportSection",
    "StepLike",
    "VerdictLike",
    "build_report",
    "check_report_path",
    "environment_info",
    "redact_url",
    "render_json",
    "render_markdown",
    "render_report",
    "write_report",
]

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

_SYMBOLS = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "-"}


class StepLike(Protocol):
    """A ladder step as reports need it (the probe's :class:`Step` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def ms(self) -> float: ...

    @property
    def detail(self) -> str: ...

    @property
    def evidence(self) -> Mapping[str, Any]: ...


class VerdictLike(Protocol):
    """A verdict as reports need it."""

    @property
    def code(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def explanation(self) -> str: ...

    @property
    def fix(self) -> str: ...

    @property
    def exit_code(self) -> int: ...


@dataclass(frozen=True)
class ReportSection:
    """One block of a report: a probed URL, or a monitor session."""

    title: str
    verdict: VerdictLike | None = None
    steps: Sequence[StepLike] = ()
    connection: Mapping[str, Any] = field(default_factory=dict)
    environment: Mapping[str, Any] = field(default_factory=dict)
    history: Sequence[Event] = ()
    summary: Mapping[str, Any] = field(default_factory=dict)
    """What a support engineer reads first (state, verdict, transport, cause, fix); shown above
    everything else. For the probe, whose verdict is its summary: the path in front of the
    server, its stickiness, and what ``--hold`` saw."""
    round_trips: Mapping[str, Any] = field(default_factory=dict)
    """Round trips as statistics (count, min, p50, p95, max, misses), not one row per sample."""


def redact_url(url: str | None, redactor: Redactor | None = None) -> str | None:
    """``url`` with the password of its user-info masked (``http://user:‹redacted›@host``)."""
    if not url:
        return url
    redactor = redactor or Redactor()
    if redactor.show_secrets:
        return url
    parts = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
    if parts.password is None and parts.username is None:
        return redactor.text(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host += f":{parts.port}"
    user = parts.username or ""
    secret = redactor.secret(parts.password or user, "password") or ""
    userinfo = f"{user}:{secret}" if parts.password is not None else secret
    return urllib.parse.urlunsplit(
        (parts.scheme, f"{userinfo}@{host}", parts.path, parts.query, parts.fragment)
    )


def _normal(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


@functools.cache
def _installed() -> dict[str, str]:
    """Normalised distribution name → version, from the ``NAME-VERSION.dist-info`` folders on
    the import path (importing :mod:`importlib.metadata` alone took ~30 ms of a probe's start)."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                dist, sep, version = name[: -len(".dist-info")].rpartition("-")
                if sep:
                    found.setdefault(_normal(dist), version)
    return found


@functools.cache
def _version(dist: str) -> str | None:
    """A distribution's version (looked up once per process)."""
    version = _installed().get(_normal(dist))
    if version is not None:
        return version
    import importlib.metadata  # an install without dist-info folders (eggs, some editables)

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def _platform() -> str:
    """``platform.platform(terse=True)``, without its cost on Linux (it reads the interpreter's
    binary for the C library's version and runs ``uname -p``: ~15 ms of a probe's start)."""
    uname = getattr(os, "uname", None)
    if uname is not None and sys.platform.startswith("linux"):
        info = uname()
        libc = ""
        with contextlib.suppress(ValueError, OSError):
            libc = (os.confstr("CS_GNU_LIBC_VERSION") or "").replace(" ", "")
        return "-".join(
            [info.sysname, info.release, info.machine, *(["with", libc] if libc else [])]
        )
    import platform

    return platform.platform(terse=True)


def environment_info(settings: Settings, redactor: Redactor | None = None) -> dict[str, Any]:
    """Where the connection ran from: proxy in effect, TLS settings, versions.

    The first five keys are the ``environment`` of the ``probe --json`` schema.
    """
    redactor = redactor or Redactor(show_secrets=settings.show_secrets)
    proxy = effective_proxy(settings)
    if settings.proxy:
        source = "--proxy"
    elif proxy:
        names = ("HTTPS_PROXY", "https_proxy") if settings.is_tls else ("HTTP_PROXY", "http_proxy")
        source = next((n for n in (*names, "ALL_PROXY", "all_proxy") if os.environ.get(n)), "env")
    else:
        source = None
    variables = {
        name: (redact_url(value, redactor) if "no_proxy" not in name.lower() else value)
        for name in PROXY_VARIABLES
        if (value := os.environ.get(name))
    }
    return {
        "proxy": redact_url(proxy, redactor),
        "tls_verify": settings.tls_verify,
        "ca_bundle": settings.ca_bundle,
        "python": sys.version.split()[0],
        "conndebug": __version__,
        "proxy_source": source,
        "proxy_variables": variables,
        "insecure": settings.insecure,
        "python_socketio": _version("python-socketio"),
        "python_engineio": _version("python-engineio"),
        "httpx": _version("httpx"),
        "aiohttp": _version("aiohttp"),
        "platform": _platform(),
    }


def check_report_path(path: str | os.PathLike[str]) -> Path:
    """The report file as a Path, or a ConfigError (wrong extension, a folder, not writable)."""
    p = Path(path).expanduser()
    if p.suffix.lower() not in (".md", ".json"):
        raise ConfigError(
            f"--report {str(path)!r} must end in .md or .json",
            "the extension chooses the format: Markdown (.md) or JSON (.json)",
        )
    if p.is_dir():
        raise ConfigError(f"--report {str(path)!r} is a directory", "give a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"--report folder {str(parent)!r} does not exist", "create it first")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ConfigError(f"--report {str(path)!r} cannot be written", "check the permissions")
    return p


def tidy(value: Any) -> Any:
    """``value`` with every float rounded to 3 decimals (no 15-digit floats in a report)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, Mapping):
        return {k: tidy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [tidy(v) for v in value]
    return value


def _step_dict(step: StepLike, redactor: Redactor) -> dict[str, Any]:
    return {
        "name": step.name,
        "status": step.status,
        "ms": round(step.ms, 1),
        "detail": redactor.text(step.detail),
        "evidence": redactor.value(dict(step.evidence)),
    }


def build_report(
    sections: Iterable[ReportSection],
    *,
    kind: str = "probe",
    redactor: Redactor | None = None,
    generated: float | None = None,
) -> dict[str, Any]:
    """The report as one JSON-ready dict (``"schema": 1``), redacted."""
    import time

    redactor = redactor or Redactor()
    out_sections: list[dict[str, Any]] = []
    for section in sections:
        verdict = section.verdict
        extra: dict[str, Any] = {}
        if section.summary:
            extra["summary"] = tidy(redactor.value(dict(section.summary)))
        if section.round_trips:
            extra["round_trips"] = tidy(dict(section.round_trips))
        out_sections.append(
            {
                "title": redactor.text(section.title),
                **extra,
                "verdict": None
                if verdict is None
                else {
                    "code": verdict.code,
                    "title": redactor.text(verdict.title),
                    "explanation": redactor.text(verdict.explanation),
                    "fix": redactor.text(verdict.fix),
                    "exit_code": verdict.exit_code,
                },
                "steps": [_step_dict(s, redactor) for s in section.steps],
                "connection": tidy(redactor.value(dict(section.connection))),
                "environment": tidy(redactor.value(dict(section.environment))),
                "history": [redactor.value(e.to_dict()) for e in section.history],
            }
        )
    return {
        "schema": 1,
        "kind": kind,
        "generated": iso_utc(time.time() if generated is None else generated),
        "conndebug": __version__,
        "redacted": not redactor.show_secrets,
        "sections": out_sections,
    }


def render_json(report: Mapping[str, Any]) -> str:
    """The report as pretty JSON text."""
    return json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n"


def _md_escape(text: Any) -> str:
    return visible(str(text).replace("\n", " ")).replace("|", "\\|")


def _md_value(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):  # as in the JSON file, not Python's True/False
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return "`" + json.dumps(value, ensure_ascii=False, default=str) + "`"
    return _md_escape(value)


INSECURE_WARNING = (
    "TLS CERTIFICATE VERIFICATION IS DISABLED (--insecure): this connection was not protected "
    "against anyone in between"
)
"""The line at the top of a Markdown report's section made with ``--insecure``."""


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown: verdict, ladder, connection, environment, history."""
    kind = report.get("kind", "probe")
    lines = [
        f"# conndebug {kind} report",
        "",
        f"Generated {report.get('generated')} by conndebug {report.get('conndebug')}"
        + (
            " — secrets redacted."
            if report.get("redacted")
            else " — SECRETS SHOWN (--show-secrets)."
        ),
        "",
    ]
    for section in report.get("sections", []):
        lines += [f"## {section['title']}", ""]
        if (section.get("environment") or {}).get("insecure"):
            lines += [f"> ⚠ **{INSECURE_WARNING}**", ""]
        summary = section.get("summary") or {}
        if summary:
            lines += ["### Summary", "", "| | |", "|---|---|"]
            lines += [f"| {k} | {_md_value(v)} |" for k, v in summary.items()]
            lines.append("")
        verdict = section.get("verdict")
        if verdict:
            lines += [
                f"**Verdict: `{verdict['code']}` — {verdict['title']}** (exit {verdict['exit_code']})",
                "",
                verdict["explanation"],
                "",
                f"**Fix:** {verdict['fix']}",
                "",
            ]
        steps = section.get("steps") or []
        if steps:
            lines += ["### Ladder", "", "| | step | ms | detail |", "|---|---|---:|---|"]
            for s in steps:
                lines.append(
                    f"| {_SYMBOLS.get(s['status'], '?')} | {s['name']} | {s['ms']:.1f} | "
                    f"{_md_escape(s['detail'])} |"
                )
            lines.append("")
            evidence = [s for s in steps if s.get("evidence")]
            if evidence:
                lines += ["<details><summary>Evidence</summary>", ""]
                for s in evidence:
                    lines.append(f"- **{s['name']}**: {_md_value(s['evidence'])}")
                lines += ["", "</details>", ""]
        for title, key in (
            ("Round trips", "round_trips"),
            ("Connection", "connection"),
            ("Environment", "environment"),
        ):
            data = section.get(key) or {}
            if data:
                lines += [f"### {title}", "", "| | |", "|---|---|"]
                lines += [f"| {k} | {_md_value(v)} |" for k, v in data.items()]
                lines.append("")
        history = section.get("history") or []
        if history:
            lines += [
                "### History",
                "",
                "| t (s) | time (UTC) | kind | detail |",
                "|---:|---|---|---|",
            ]
            for event in history:
                lines.append(
                    f"| {event.get('t', 0):.3f} | {event.get('ts', '')} | {event.get('kind')} | "
                    f"{_md_escape(event.get('detail', ''))} |"
                )
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_report(
    path: str | os.PathLike[str],
    sections: Iterable[ReportSection],
    *,
    kind: str = "probe",
    redactor: Redactor | None = None,
) -> str:
    """The redacted report's text, in the format its file name's extension chooses."""
    report = build_report(sections, kind=kind, redactor=redactor)
    return render_json(report) if str(path).lower().endswith(".json") else render_markdown(report)


def write_report(
    path: str | os.PathLike[str],
    sections: Iterable[ReportSection],
    *,
    kind: str = "probe",
    redactor: Redactor | None = None,
) -> Path:
    """Write a redacted report; the extension (.md / .json) chooses the format."""
    target = check_report_path(path)
    text = render_report(target, sections, kind=kind, redactor=redactor)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"--report {str(path)!r} cannot be written", exc.strerror or str(exc)
        ) from None
    return target
