"""The ``conndebug`` console script and ``python -m conndebug``: the CLI of :mod:`conndebug.cli`,
started without the garbage collector's passes over the modules it loads.

Importing the CLI (asyncio, ssl, argparse, the settings, the events) leaves some 18,000 objects
the collector tracks, all alive until the process ends; at its default thresholds the collector
made ~37 passes over them on the way, 5–7 ms of a probe's ~130 ms start to verdict. So it is off
while the CLI loads, and what was loaded is then frozen out of its view (``gc.freeze``): later
passes look only at what the command loads and allocates. The collector is back on before the
command runs.
"""

from __future__ import annotations

import gc

__all__ = ["main"]


def main() -> int:
    """The console script's entry point; returns the exit code."""
    gc.disable()
    try:
        from conndebug.cli import main as run
    finally:
        gc.freeze()
        gc.enable()
    return run()


if __name__ == "__main__":
    raise SystemExit(main())
