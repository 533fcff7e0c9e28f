"""The front-ends: one module per command, each a thin layer over the core.

- :mod:`.watch`  ``conndebug watch`` (headless live history)
- :mod:`.probe`  ``conndebug probe`` (the CLI), :mod:`.probe_render` (its human output)
- :mod:`.serve`  ``conndebug serve`` (the reference server alone)
- :mod:`.tui`    ``conndebug --url`` and ``conndebug demo`` (the Textual app)

This package's ``__init__`` imports nothing: :mod:`conndebug.cli` imports the one module a command
needs when it runs, so the headless commands never load Textual.
"""
