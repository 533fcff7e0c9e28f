"""``python -m bench --only NAME`` puts its rows into the full run's RESULTS.md instead of
replacing the file: other rows, the header and the machine stay; a line says when and how loaded."""

from __future__ import annotations

from pathlib import Path

from bench.common import Params, Row
from bench.report import merge_results, table, write_results


def _row(name: str, value: str, met: bool | None = True) -> Row:
    return Row(benchmark=name, conndebug=value, baseline="—", ratio="—", goal="g", met=met)


def test_a_partial_run_replaces_only_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    full = [
        _row("1. first", "a"),
        _row("8. eighth", "b"),
        _row("9. exporter: old", "old"),
        _row("10. tenth", "c", None),
    ]
    write_results(
        path,
        full,
        failures=[],
        params=Params.full(),
        took_s=200,
        names=["x"],
        machine_text="- 2 cores; load average at the end of the run 0.10 / 0.20 / 0.30 (1/5/15 min)",
        produced_at="2026-01-01 00:00 UTC",
    )
    new = [_row("9. exporter: rate", "fast"), _row("9. exporter: memory", "small", False)]
    text = merge_results(
        path,
        new,
        failures=[],
        command="uv run python -m bench --only exporter",
        took_s=120,
        machine_text="- 2 cores; load average at the end of the run 1.50 / 1.00 / 0.70 (1/5/15 min)",
        produced_at="2026-02-02 12:00 UTC",
    )
    assert path.read_text() == text
    assert "Produced by `uv run python -m bench` on 2026-01-01 00:00 UTC" in text  # the full run's
    assert "0.10 / 0.20 / 0.30" in text
    expected = table(full[:2] + new + full[3:])  # in numeric order, 9 replaced
    assert text.count("| benchmark | conndebug |") == 1
    assert expected + "\n" in text
    assert "9. exporter: old" not in text
    assert (
        "Rows measured by a later partial run 9: `uv run python -m bench --only exporter` on "
        "2026-02-02 12:00 UTC in 120 s, load average at its end 1.50 / 1.00 / 0.70 (1/5/15 min)."
    ) in text
    # A second partial run of the same rows replaces its line too.
    again = merge_results(
        path,
        new,
        failures=[],
        command="uv run python -m bench --only exporter",
        took_s=90,
        machine_text="- load average at the end of the run 0.50 / 0.50 / 0.50 (1/5/15 min)",
        produced_at="2026-02-03 12:00 UTC",
    )
    assert again.count("Rows measured by a later partial run") == 1
    assert "in 90 s" in again
