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


_PARTIAL_MARK = "Rows measured by a later partial run"


def _row_number(line: str) -> str:
    """``9`` for a table line ``| 9. exporter: … |``."""
    return line[2:].split(".", 1)[0].strip()


def merge_results(
    path: Path,
    rows: list[Row],
    *,
    failures: list[str],
    command: str,
    took_s: float,
    machine_text: str | None = None,
    produced_at: str | None = None,
) -> str:
    """Put the rows of a partial run (``--only``) into an existing results file.

    The full run's header, machine and rows stay; rows with the same benchmark number as the new
    ones are replaced (new numbers go in numeric order), and a line under the table says which
    rows came from which partial run, when, and the machine's load then. The notes are taken
    from ``bench/notes.md`` again.
    """
    text = path.read_text()
    lines = text.split("\n")
    header_at = lines.index("| benchmark | conndebug | baseline | ratio | goal | met? |")
    end = header_at + 2
    while end < len(lines) and lines[end].startswith("| "):
        end += 1
    new_lines = table(rows).split("\n")[2:]
    new_numbers = {_row_number(line) for line in new_lines}
    kept = [line for line in lines[header_at + 2 : end] if _row_number(line) not in new_numbers]
    merged = sorted(kept + new_lines, key=lambda line: int(_row_number(line) or 0))
    partial_lines = [
        line
        for line in lines[end:]
        if line.startswith(f"{_PARTIAL_MARK}")
        and not any(f" {n}:" in line.split("`", 1)[0] for n in new_numbers)
    ]
    numbers = ", ".join(sorted(new_numbers, key=int))
    load_line = next(
        (ln for ln in (machine_text or machine()).split("\n") if "load average" in ln), ""
    )
    load = load_line.split("load average at the end of the run ", 1)[-1]
    partial_lines.append(
        f"{_PARTIAL_MARK} {numbers}: `{command}` on {produced_at or produced_now()} in "
        f"{took_s:.0f} s, load average at its end {load}."
    )
    parts = [*lines[: header_at + 2], *merged, "", *partial_lines]
    if failures:
        parts += ["", "## Benchmarks that failed to run", ""] + [f"- {f}" for f in failures]
    notes_file = BENCH_DIR / "notes.md"
    notes = notes_file.read_text().strip() if notes_file.exists() else ""
    if notes:
        parts += ["", notes]
    out = "\n".join(parts) + "\n"
    path.write_text(out)
    return out
