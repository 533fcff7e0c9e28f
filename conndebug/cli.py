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
from conndebug.config import Settings, add_connection_options, add_har_option, settings_from_args
from conndebug.core.errors import ConfigError, ConndebugError
from conndebug.core.redact import Redactor

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_WARNING, EXIT_CRITICAL, EXIT_UNKNOWN = 0, 1, 2, 3

_COMMANDS = {
    "demo": "start the built-in reference server on loopback and open the TUI on it",
    "probe": "one-shot layered diagnosis of one or more URLs; prints a verdict; exit code by verdict",
    "watch": "headless live monitor: the history as it happens (text or JSON lines)",
    "serve": "run the reference chat server alone, with fault switches (for demos behind real proxies)",
    "explain": "a verdict from a HAR, a DEBUG=socket.io-client log, a python-socketio log, a JSONL",
    "exporter": "Prometheus exporter, blackbox style: GET /probe?target=URL&module=NAME, GET /metrics",
}

_MAIN_DESCRIPTION = """\
See and explain what happens to a Socket.IO connection.

  conndebug --url URL [options]     open the live panel (TUI) against a server
  conndebug demo                    reference server + TUI with fault switches on keys
  conndebug probe URL... [--json]   layered diagnosis, a verdict in plain words, exit code by verdict
  conndebug watch URL [--jsonl]     headless live history and verdict (JSON lines with --jsonl)
  conndebug serve [--port P]        the reference server alone, faults switchable over HTTP
  conndebug explain FILE... [--json]  a verdict from a HAR or a client log a customer sent in
  conndebug exporter                Prometheus exporter: /probe?target=URL (blackbox style)
  conndebug probe URL --nagios      one monitoring-plugin line with perfdata (Nagios, Icinga)

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
    add_har_option(p)
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
    add_har_option(p)
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
    g = p.add_argument_group(
        "monitoring plugin (Nagios, Icinga, Checkmk)",
        "--nagios prints one line, STATUS: text | perfdata (the time of every rung, the round "
        "trip, the heartbeat), and exits with the worse of the verdict and the thresholds. "
        "Thresholds are ranges on the total time in seconds, in the plugin syntax: -w 2 (warn "
        "above 2 s), -c 5, -w 0.5:3 (outside 0.5-3 s), -w @1:2 (inside). One URL per check.",
    )
    g.add_argument("--nagios", action="store_true", help="print one monitoring-plugin line")
    g.add_argument(
        "-w", "--warning", metavar="S", help="WARNING when the total time is outside this range"
    )
    g.add_argument(
        "-c", "--critical", metavar="S", help="CRITICAL when the total time is outside this range"
    )
    h = p.add_argument_group(
        "who cuts the connection (--hold)",
        "After the ladder, hold two connections side by side: a quiet one (only the server's "
        "heartbeat crosses it) and a chatty one (a round trip every second). Only the quiet one "
        "cut: an idle timeout in between, shorter than the heartbeat. Both cut at the same "
        "time: a lifetime cap (traffic does not help). A polling GET is held beside them for a "
        "full pingInterval: cut sooner, a request timeout breaks long-polling. Stickiness is "
        "tried with and without the path's cookies. It ends at the first cut (plus 1.2 s, to see "
        "whether the other follows), at --max, or on Ctrl-C with what was learnt "
        "so far; the verdict names the limit (to a second), the rule it breaks, the box in the "
        "path and its fix. One URL; --json adds a 'hold' object.",
    )
    h.add_argument(
        "--hold", action="store_true", help="hold connections open to see what cuts them, and when"
    )
    h.add_argument(
        "--max",
        type=float,
        default=None,
        metavar="S",
        help="hold at most S seconds (default: 600; a lifetime cap longer than that is not seen)",
    )
    add_connection_options(p)
    return p


def _watch_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="conndebug watch",
        description="Connect like the web client and print the history as it happens, with the "
        "diagnosis as it changes; stops after --duration or on Ctrl-C, prints the final verdict; "
        "exit code by that verdict (0 ok, 1 degraded, 2 cannot connect), as probe's.",
        epilog=_EPILOG,
        formatter_class=_formatter,
    )
    p.add_argument("url", metavar="URL", help="the Socket.IO server")
    p.add_argument("--jsonl", action="store_true", help="print the history events as JSON lines")
    p.add_argument(
        "--trace",
        action="store_true",
        help="also print every Engine.IO/Socket.IO packet in and out (`packet` events: direction, "
        "transport, type, size, what it carried; redacted)",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="stop after S seconds (0: stop as soon as the first connect settles)",
    )
    p.add_argument(
        "--prom-textfile",
        metavar="FILE",
        help="keep FILE (*.prom, in node_exporter's --collector.textfile.directory) up to date "
        "with the live state, uptime and drop counters by reason; rewritten atomically",
    )
    p.add_argument(
        "--prom-interval",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds between textfile rewrites (default: 5; changes of state are written at once)",
    )
    add_har_option(p)
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


def _explain_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="conndebug explain",
        description="Read what a customer sends in (a Chrome or Firefox HAR, a "
        "DEBUG=socket.io-client:*,engine.io-client:* log, a python-socketio client log with "
        "logger=True, engineio_logger=True, conndebug's own --jsonl/--log lines), replay it as a "
        "timeline, say what the file cannot tell, and give the verdict, evidence and fix. The "
        "format is found from the content. Secrets in the files are redacted.",
        epilog=_EPILOG,
        formatter_class=_formatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="one or more records")
    p.add_argument("--json", action="store_true", help="one JSON object per file (schema 1)")
    p.add_argument(
        "--show-secrets", action="store_true", help="do not redact tokens, cookies, credentials"
    )
    return p


_EXPORTER_EPILOG = """\
Prometheus scrape config (the blackbox pattern: the target list is relabelled onto the exporter):

  scrape_configs:
    - job_name: socketio
      metrics_path: /probe
      params: {module: [default]}
      static_configs: [{targets: ["https://chat.example.com"]}]
      relabel_configs:
        - {source_labels: [__address__], target_label: __param_target}
        - {source_labels: [__param_target], target_label: instance}
        - {target_label: __address__, replacement: "127.0.0.1:9516"}

Try it by hand:  curl 'http://127.0.0.1:9516/probe?target=https://chat.example.com'
Metrics: probe_success, probe_duration_seconds, conndebug_probe_phase_duration_seconds{phase},
conndebug_verdict{code}, conndebug_transport{transport}, conndebug_rtt_seconds,
conndebug_heartbeat_seconds{kind}, conndebug_tls_cert_expiry_timestamp_seconds. The README's
"Monitoring" section has the config file format, an alert rule and more.
"""


def _exporter_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="conndebug exporter",
        description="Serve Socket.IO probes to Prometheus, blackbox_exporter style: GET "
        "/probe?target=URL[&module=NAME] runs the probe ladder and answers with its metrics; GET "
        "/metrics is the exporter's own. Listens on loopback unless told otherwise.",
        epilog=_EXPORTER_EPILOG,
        formatter_class=_formatter,
    )
    p.add_argument(
        "--listen",
        default="127.0.0.1:9516",
        metavar="HOST:PORT",
        help="address to listen on (default: %(default)s, loopback only; 0.0.0.0:9516 for every "
        "interface, said loudly: then give --allow rules)",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="TOML file of modules ([modules.NAME] tables of probe options) and allow rules",
    )
    p.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="PATTERN",
        help="only probe matching targets (repeatable; others get 403): 'https://*.example.com' "
        "(scheme, host and port, wildcards), 'chat.example.com', '10.1.2.3:*', '10.0.0.0/8'",
    )
    p.add_argument(
        "--max-concurrent",
        type=int,
        default=32,
        metavar="N",
        help="probes running at once (default: %(default)s)",
    )
    p.add_argument(
        "--max-queued",
        type=int,
        default=128,
        metavar="N",
        help="scrapes that may wait for a free slot, until their deadline; beyond, 503 at once "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--timeout-margin",
        type=float,
        default=0.5,
        metavar="S",
        help="taken off Prometheus' scrape timeout (X-Prometheus-Scrape-Timeout-Seconds) to get a "
        "probe's budget (default: %(default)s)",
    )
    return p


_PARSERS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "demo": _demo_parser,
    "probe": _probe_parser,
    "watch": _watch_parser,
    "serve": _serve_parser,
    "explain": _explain_parser,
    "exporter": _exporter_parser,
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``command`` (``None``: the TUI's, whose help lists the commands)."""
    return _PARSERS[command]() if command else _tui_parser()


def make_settings(args: argparse.Namespace, url: str) -> Settings:
    """Validated settings for ``url`` from parsed connection options (raises ConfigError)."""
    return settings_from_args(args, url)


def _check_hold(args: argparse.Namespace) -> None:
    """``--hold`` and ``--max`` make sense together, with one URL, for a bounded time."""
    if args.max is not None and not args.hold:
        raise ConfigError("--max bounds --hold", "add --hold")
    if not args.hold:
        return
    if len(args.urls) != 1:
        raise ConfigError("--hold holds connections to one URL", "give one URL with --hold")
    if args.max is not None and not (1 <= args.max <= 24 * 3600):
        raise ConfigError(f"--max {args.max:g} is out of range", "use 1 to 86400 seconds")


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
        textfile = None
        if args.prom_textfile:
            from conndebug.commands.textfile import check_textfile

            textfile = check_textfile(args.prom_textfile)
            if not (0.2 <= args.prom_interval <= 3600):
                raise ConfigError(
                    f"--prom-interval {args.prom_interval:g} is out of range",
                    "use 0.2 to 3600 seconds",
                )
        from conndebug.commands.watch import run_watch

        return run_watch(
            settings,
            jsonl=args.jsonl,
            duration=args.duration,
            trace=args.trace,
            textfile=textfile,
            textfile_interval=args.prom_interval,
        )
    if command == "probe":
        if args.nagios:
            if args.hold:
                raise ConfigError(
                    "--hold takes minutes; a monitoring check must not",
                    "drop --hold with --nagios (run `conndebug probe URL --hold` by hand)",
                )
            if args.json or args.report:
                raise ConfigError(
                    "--nagios prints one plugin line", "drop --json and --report with --nagios"
                )
            from conndebug.commands.nagios import run_nagios

            return run_nagios(args)
        if args.warning is not None or args.critical is not None:
            raise ConfigError("-w and -c are thresholds of --nagios", "add --nagios")
        _check_hold(args)
        from conndebug.commands.probe import run_probe_command

        return run_probe_command(args)
    if command == "explain":
        from conndebug.commands.explain import run_explain

        return run_explain(args.files, json_out=args.json, show_secrets=args.show_secrets)
    if command == "exporter":
        from conndebug.commands.exporter import run_exporter

        return run_exporter(args)
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
