"""``uv run python -m bench``: every benchmark, side by side with the real JavaScript client.

    uv run python -m bench                 # the full run (~11 minutes: the soak), writes bench/RESULTS.md
    uv run python -m bench --smoke         # tiny numbers, no 60 s caps (CI runs this)
    uv run python -m bench --only storm,idle   # these rows replaced in bench/RESULTS.md
    uv run python -m bench --only soak     # the 10-minute soak alone
    uv run python -m bench --render        # RESULTS.md again from bench/out/raw.json (after editing notes)

Raw samples go to ``bench/out/`` (git-ignored). Needs the Node peers (``npm ci`` in tests/node).

The benchmarks start together; each takes a shared lock for its CPU-sensitive part, so those parts
run one at a time, while the long capped waits (the seed's client given 60 s to connect or to
notice a frozen server, the 60 s idle window) run in the background meanwhile: they are timers
and idle processes, not CPU load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench import (
    client_storm,
    exporter,
    fallback,
    fleet,
    hold,
    idle,
    restart,
    soak,
    stall,
    startup,
    storm,
    tui_start,
    verdicts,
    wire,
)
from bench.common import BENCH_DIR, Params, Row, node_available, say
from bench.report import machine, merge_results, produced_now, write_results

BENCHMARKS: dict[str, Callable[[Params, asyncio.Lock], Awaitable[list[Row]]]] = {
    "fallback": fallback.run,
    "startup": startup.run,
    "stall": stall.run,
    "restart": restart.run,
    "storm": storm.run,
    "fleet": fleet.run,
    "idle": idle.run,
    "verdicts": verdicts.run,
    "wire": wire.run,
    "client": client_storm.run,
    "tui_start": tui_start.run,
    "exporter": exporter.run,
    "hold": hold.run,
    "soak": soak.run,
}


async def run_all(params: Params, names: list[str]) -> tuple[list[Row], list[str], float]:
    fg = asyncio.Lock()
    started = time.monotonic()
    tasks = {name: asyncio.create_task(BENCHMARKS[name](params, fg)) for name in names}
    await asyncio.wait(tasks.values())
    rows: list[Row] = []
    failures: list[str] = []
    for name in names:  # the table in the order of the issue
        task = tasks[name]
        exc = task.exception()
        if exc is not None:
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            say(f"{name} FAILED: {type(exc).__name__}: {exc}")
        else:
            rows.extend(task.result())
    return rows, failures, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny numbers, no 60 s caps")
    parser.add_argument("--only", help="comma-separated: " + ",".join(BENCHMARKS))
    parser.add_argument("--results", type=Path, help="where to write the results (Markdown)")
    parser.add_argument("--raw", type=Path, help="where to write the raw samples (JSON)")
    parser.add_argument(
        "--render",
        action="store_true",
        help="measure nothing: write the results again from the raw file (e.g. after editing "
        "bench/notes.md)",
    )
    args = parser.parse_args(argv)
    if args.render:
        return render(args.raw or BENCH_DIR / "out" / "raw.json", args.results)
    names = [n.strip() for n in args.only.split(",")] if args.only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    missing = node_available()
    if missing:
        print(f"bench: {missing}", file=sys.stderr)
        return 3
    params = Params.smoke_run() if args.smoke else Params.full()
    out = BENCH_DIR / "out"
    results = args.results or (out / "RESULTS-smoke.md" if args.smoke else BENCH_DIR / "RESULTS.md")
    if args.raw:
        raw = args.raw
    elif args.smoke:
        raw = out / "raw-smoke.json"
    elif names != list(BENCHMARKS):  # a partial run keeps the full run's raw data intact
        raw = out / f"raw-only-{'-'.join(names)}.json"
    else:
        raw = out / "raw.json"
    # The run keeps its guest sessions to itself: the user's store is neither read (a session kept
    # from another server on a reused port) nor filled with the run's thousands of sessions.
    with tempfile.TemporaryDirectory(prefix="conndebug-bench-") as data_home:
        os.environ["XDG_DATA_HOME"] = data_home
        rows, failures, took = asyncio.run(run_all(params, names))
    machine_text, produced_at = machine(), produced_now()
    only = names != list(BENCHMARKS)
    if only and not params.smoke and args.results is None and results.exists():
        # A partial run updates its rows of the full run's table instead of replacing the file.
        text = merge_results(
            results,
            rows,
            failures=failures,
            command="uv run python -m bench --only " + ",".join(names),
            took_s=took,
            machine_text=machine_text,
            produced_at=produced_at,
        )
    else:
        text = write_results(
            results,
            rows,
            failures=failures,
            params=params,
            took_s=took,
            names=names,
            only=only,
            machine_text=machine_text,
            produced_at=produced_at,
        )
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(
        json.dumps(
            {
                "rows": [r.as_json() for r in rows],
                "failures": failures,
                "took_s": took,
                "smoke": params.smoke,
                "names": names,
                "machine": machine_text,
                "produced_at": produced_at,
            },
            indent=1,
            default=str,
        )
    )
    print(text)
    say(f"wrote {results} and {raw} in {took:.0f} s")
    return 1 if failures else 0


def render(raw: Path, results: Path | None) -> int:
    """Write the results file again from a run's raw data and the current notes (a partial
    run's rows go into the full run's file, as when it ran)."""
    data = json.loads(raw.read_text())
    smoke = bool(data.get("smoke"))
    params = Params.smoke_run() if smoke else Params.full()
    target = results or (
        BENCH_DIR / "out" / "RESULTS-smoke.md" if smoke else BENCH_DIR / "RESULTS.md"
    )
    rows = [Row(**row) for row in data["rows"]]
    names = list(data.get("names") or BENCHMARKS)
    if names != list(BENCHMARKS) and not smoke and target.exists():
        print(
            merge_results(
                target,
                rows,
                failures=list(data.get("failures", [])),
                command="uv run python -m bench --only " + ",".join(names),
                took_s=float(data["took_s"]),
                machine_text=data.get("machine"),
                produced_at=data.get("produced_at"),
            )
        )
        return 0
    print(
        write_results(
            target,
            rows,
            failures=list(data.get("failures", [])),
            params=params,
            took_s=float(data["took_s"]),
            names=names,
            only=names != list(BENCHMARKS),
            machine_text=data.get("machine"),
            produced_at=data.get("produced_at"),
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
