"""The benchmark harness still runs: ``python -m bench --smoke`` (1 repetition, tiny numbers, no 60 s
caps) against the real peers. Timing goals are the benchmarks' business, not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.node, pytest.mark.slow, pytest.mark.timeout(400)]


def test_the_smoke_run_measures_every_benchmark(node_dir: Path, tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    raw = tmp_path / "raw.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--results", str(results), "--raw", str(raw)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=360,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(raw.read_text())
    assert data["failures"] == []
    rows = data["rows"]
    numbers = sorted({int(row["benchmark"].split(".", 1)[0]) for row in rows})
    assert numbers == list(range(1, 15))
    # time to a verdict: each setup gave its verdict (the times are the benchmark's business)
    for row in (r for r in rows if r["benchmark"].startswith("8.")):
        expected = row["benchmark"].rsplit("`", 2)[1]
        assert row["raw"]["verdicts"] == [expected], row
    for row in rows:
        assert row["conndebug"], row
        assert not row["conndebug"].startswith("failed"), row
        assert row["met"] in (True, False, None)
    text = results.read_text()
    assert "| benchmark | conndebug | baseline | ratio | goal | met? |" in text
    assert "## Machine" in text
    for row in rows:  # one table line per row
        assert f"| {row['benchmark'].replace('|', chr(92) + '|')} |" in text
    # The table on stdout is the same as the file's.
    assert "| benchmark | conndebug |" in done.stdout
