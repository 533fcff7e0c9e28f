"""Write ``RESULTS.md``: the machine, the command, the table, and the notes of ``bench/notes.md``."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

from bench.common import BENCH_DIR, NODE_MODULES, Params, Row, node_version


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "unknown"


def _package_version(name: str) -> str:
    try:
        data = json.loads((NODE_MODULES / name / "package.json").read_text())
        return str(data.get("version", "?"))
    except (OSError, ValueError):
        return "?"


def _py_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def machine() -> str:
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"- {os.cpu_count()} cores ({_cpu_model()}), {_memory()} RAM, {platform.system()} "
        f"{platform.release()}; load average at the end of the run {load} (1/5/15 min)\n"
        f"- Python {platform.python_version()} ({sys.executable.rsplit('/', 3)[-3]} venv), "
        f"python-socketio {_py_version('python-socketio')}, python-engineio "
        f"{_py_version('python-engineio')}, aiohttp {_py_version('aiohttp')}, textual "
        f"{_py_version('textual')}\n"
        f"- Node {node_version()}, socket.io-client {_package_version('socket.io-client')}, "
        f"socket.io {_package_version('socket.io')}\n"
        "- Python subprocesses run as a user's install does: `PYTHONDONTWRITEBYTECODE` removed from "
        "their environment (this machine sets it), bytecode caches written by a warm-up run first"
    )


def produced_now() -> str:
    return time.strftime("%Y-%m-%d %H:%M %Z")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows: list[Row]) -> str:
    out = [
        "| benchmark | conndebug | baseline | ratio | goal | met? |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        met = "—" if row.met is None else ("✅ yes" if row.met else "❌ no")
        out.append(
            "| "
            + " | ".join(
                _cell(c)
                for c in (row.benchmark, row.conndebug, row.baseline, row.ratio, row.goal, met)
            )
            + " |"
        )
    return "\n".join(out)


def write_results(
    path: Path,
    rows: list[Row],
    *,
    failures: list[str],
    params: Params,
    took_s: float,
    names: list[str],
    only: bool = False,
    machine_text: str | None = None,
    produced_at: str | None = None,
) -> str:
    """Write the results file and return its text (``machine_text``/``produced_at``: as recorded
    by the run, when re-rendering from its raw data)."""
    command = "uv run python -m bench" + (" --smoke" if params.smoke else "")
    if only:
        command += " --only " + ",".join(names)
    notes_file = BENCH_DIR / "notes.md"
    notes = notes_file.read_text().strip() if notes_file.exists() else ""
    parts = [
        "# Benchmarks: conndebug side by side with the real JavaScript client",
        "",
        f"Produced by `{command}` on {produced_at or produced_now()} in {took_s:.0f} s "
        "(this file is rewritten by every full run; the notes come from `bench/notes.md`).",
        "",
        "## Machine",
        "",
        machine_text or machine(),
        "",
        "## Results",
        "",
        "Times are medians with (min–max, n = repetitions); the baseline is the seed's client "
        "(`tests/node/client.js`: socket.io-client with transports websocket,polling, 20 s timeout, "
        "10 reconnection attempts 1–5 s) unless the row says otherwise. Ratio = conndebug ÷ "
        "baseline.",
        "",
        table(rows),
    ]
    if failures:
        parts += ["", "## Benchmarks that failed to run", ""] + [f"- {f}" for f in failures]
    if notes:
        parts += ["", notes]
    text = "\n".join(parts) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text
