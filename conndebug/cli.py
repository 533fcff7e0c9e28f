"""Argument parsing and dispatch.

This module imports only the standard library and :mod:`conndebug.config`, so ``--help``,
``--version`` and bad-usage errors are instant. Each command imports what it needs when it runs:
``probe``, ``watch`` and ``serve`` never import Textual; only the TUI and ``demo`` do.

Exit codes (monitoring-plugin convention): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (bad usage,
configuration or an internal error).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from conndebug import __version__
from conndebug.config import Settings, add_connection_options, settings_from_args
from conndebug.core.errors import ConfigError, ConndebugError
from conndebug.core.redact import Redactor

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_WARNING, EXIT_CRITICAL, EXIT_UNKNOWN = 0, 1, 2, 3

_COMMANDS = {
    "demo": "start the built-in reference server on loopback and open the TUI on it",
    "probe": "one-shot layered diagnosis of one or more URLs; prints a verdict; exit code by verdict",
    "watch": "headless live monitor: the history as it happens (text or JSON lines)",
    "serve": "run the reference chat server alone, with fault switches (for demos behind real proxies)",
}

_MAIN_DESCRIPTION = """\
See and explain what happens to a Socket.IO connection.

  conndebug --url URL [options]     open the live panel (TUI) against a server
  conndebug demo                    reference server + TUI with fault switches on keys
  conndebug probe URL... [--json]   layered diagnosis, a verdict in plain words, exit code by verdict
  conndebug watch URL [--jsonl]     headless live history (JSON lines with --jsonl)
  conndebug serve [--port P]        the reference server alone, faults switchable over HTTP

Run `conndebug COMMAND --help` for a command's options.
"""

_EPILOG = """\
exit codes: 0 OK, 1 WARNING (degraded: polling only, permissive CORS), 2 CRITICAL (cannot connect,
rejected), 3 UNKNOWN (bad usage or configuration).
environment: HTTP_PROXY, HTTPS_PROXY, NO_PROXY, SSL_CERT_FILE and NO_COLOR are honoured.
"""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit 3 (UNKNOWN), not 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{message}", f"see `{self.prog} --help`")


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32, width=100)


def _tui_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="conndebug",
        description=_MAIN_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=_formatter,
    )
    p.add_argument("--version", action="version", version=f"conndebug {__version__}")
    p.add_argument("--url", help="the Socket.IO server to watch, e.g. http://localhost:3001")
    add_connection_options(p)
    return p


def _demo_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="conndebug demo",
        description="Start the reference chat server in-process on a free loopback port and open the "
        "live panel on it. Fault keys: f websocket firewall, b black-hole all traffic, k kick, "
        "t restart, +/- latency, x expire the session.",
        formatter_class=_formatter,
    )
    p.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    p.add_argument(
        "--session-ttl",
        default="120",
        metavar="S",
        help="server-side session lifetime in seconds, short so expiry shows (default: %(default)s)",
    )
    p.add_argument(
        "--ping-interval",
        type=float,
        default=25.0,
        metavar="S",
        help="server ping interval (default: 25)",
    )
    p.add_argument(
        "--ping-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="server ping timeout (default: 60)",
    )
    add_connection_options(p)
    return p


def _probe_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="conndebug probe",
        description="Diagnose a Socket.IO deployment layer by layer (URL, DNS, TCP, TLS, proxy, "
        "Engine.IO handshake, sticky sessions, websocket, namespace auth, round trips, CORS) and "
        "name the cause in plain words with the evidence and the fix.",
        epilog=_EPILOG,
        formatter_class=_formatter,
    )
    p.add_argument(
        "urls",
        nargs="+",
        metavar="URL",
        help="one or more servers; several are probed concurrently",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON (schema 1)")
    p.add_argument(
        "--report", metavar="FILE", help="write a redacted report for a ticket (.md or .json)"
    )
    add_connection_options(p)
    return p


def _watch_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="conndebug watch",
        description="Connect like the web client and print the history as it happens; stops after "
        "--duration or on Ctrl-C; exit code by final state.",
        epilog=_EPILOG,
        formatter_class=_formatter,
    )
    p.add_argument("url", metavar="URL", help="the Socket.IO server")
    p.add_argument("--jsonl", action="store_true", help="print the history events as JSON lines")
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="stop after S seconds (0: stop as soon as the first connect settles)",
    )
    add_connection_options(p)
    return p


def _serve_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="conndebug serve",
        description="Run the reference server: the chat backend's REST and Socket.IO contract, "
        "plus fault switches (websocket reject/blackhole, all-traffic blackhole, latency, kick, "
        "expire, restart, CORS reflect) behind an admin key on /_conndebug/.",
        formatter_class=_formatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    p.add_argument(
        "--port", type=int, default=3001, help="port, 0 for a free one (default: %(default)s)"
    )
    p.add_argument("--secret", help="JWT signing secret (default: random per start)")
    p.add_argument(
        "--token-ttl",
        default="7d",
        metavar="T",
        help="token lifetime, e.g. 7d, 2h, 90s, 30 (default: %(default)s)",
    )
    p.add_argument(
        "--session-ttl",
        default="2h",
        metavar="T",
        help="server-side session lifetime (default: %(default)s)",
    )
    p.add_argument(
        "--ping-interval",
        type=float,
        default=25.0,
        metavar="S",
        help="Engine.IO ping interval (default: 25)",
    )
    p.add_argument(
        "--ping-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="Engine.IO ping timeout (default: 60)",
    )
    p.add_argument(
        "--cors-origin",
        action="append",
        default=None,
        metavar="ORIGIN",
        help="allowed CORS origin, repeatable (default: http://localhost:3000)",
    )
    p.add_argument(
        "--admin-key", help="key for the /_conndebug/ admin API (default: random, printed at start)"
    )
    p.add_argument(
        "--redis",
        metavar="URL",
        help="keep sessions in Redis and join a cluster of serve processes",
    )
    p.add_argument(
        "--websocket",
        choices=["allow", "reject", "blackhole"],
        default="allow",
        help="initial websocket fault",
    )
    p.add_argument(
        "--latency", type=float, default=0.0, metavar="MS", help="initial added latency in ms"
    )
    p.add_argument(
        "--cors", choices=["strict", "reflect"], default="strict", help="initial CORS policy"
    )
    p.add_argument("--quiet", action="store_true", help="print only the listening line")
    return p


_PARSERS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "demo": _demo_parser,
    "probe": _probe_parser,
    "watch": _watch_parser,
    "serve": _serve_parser,
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``command`` (``None``: the TUI's, whose help lists the commands)."""
    return _PARSERS[command]() if command else _tui_parser()


def make_settings(args: argparse.Namespace, url: str) -> Settings:
    """Validated settings for ``url`` from parsed connection options (raises ConfigError)."""
    return settings_from_args(args, url)


def _run(argv: Sequence[str]) -> int:
    command = argv[0] if argv and argv[0] in _PARSERS else None
    args = build_parser(command).parse_args(list(argv[1:] if command else argv))

    if command == "serve":
        from conndebug.commands.serve import run_serve

        return run_serve(args)
    if command == "watch":
        settings = make_settings(args, args.url)
        if args.duration is not None and not (0 <= args.duration <= 7 * 24 * 3600):
            raise ConfigError(
                f"--duration {args.duration:g} is out of range", "use 0 or more seconds"
            )
        from conndebug.commands.watch import run_watch

        return run_watch(settings, jsonl=args.jsonl, duration=args.duration)
    if command == "probe":
        from conndebug.commands.probe import run_probe_command

        return run_probe_command(args)
    if command == "demo":
        from conndebug.commands.tui import run_demo

        return run_demo(args)
    if args.url is None:
        _tui_parser().print_help()
        print("\nerror: give --url URL, or a command (try `conndebug demo`)", file=sys.stderr)
        return EXIT_UNKNOWN
    settings = make_settings(args, args.url)
    from conndebug.commands.tui import run_tui

    return run_tui(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``conndebug`` console script; returns the exit code."""
    from conndebug.core.output import hold_standard_streams

    hold_standard_streams()
    try:
        return _run(sys.argv[1:] if argv is None else argv)
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("conndebug."):
            raise
        print(
            f"error: this command is not built yet ({exc.name}) — see the README", file=sys.stderr
        )
        return EXIT_UNKNOWN
    except ConndebugError as exc:
        print(Redactor().text(exc.one_line()), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: no traceback for users
        if os.environ.get("CONNDEBUG_DEBUG"):
            raise
        print(
            Redactor().text(
                f"error: internal error ({type(exc).__name__}: {exc}) — this is a bug in conndebug; "
                "run again with CONNDEBUG_DEBUG=1 to see the traceback"
            ),
            file=sys.stderr,
        )
        return EXIT_UNKNOWN
