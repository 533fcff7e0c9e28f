"""The client loads no HTTP or Socket.IO library but the wire's, and msgpack only when asked."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("aiohttp", "socketio", "engineio", "httpx", "textual", "msgpack", "simple_websocket")


def loaded_after(code: str) -> set[str]:
    probe = f"import sys; {code}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return {name.split(".")[0] for name in out.stdout.split()}


def test_the_client_imports_no_other_http_or_socketio_library() -> None:
    loaded = loaded_after("import conndebug.client.connecting, conndebug.client.client")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    assert "conndebug" in loaded


def test_msgpack_is_loaded_by_the_msgpack_parser_only() -> None:
    code = "import conndebug.client.sio as s; s.make_parser('msgpack')"
    assert "msgpack" in loaded_after(code)


def test_the_sans_io_codecs_load_without_the_wire() -> None:
    loaded = loaded_after("import conndebug.client.eio, conndebug.client.sio, conndebug.client.tap")
    assert "asyncio" not in loaded


def test_the_package_names_its_public_api_lazily() -> None:
    import conndebug.client as client

    for name in client.__all__:
        assert getattr(client, name) is not None


def test_connect_is_the_function_whatever_was_imported_first() -> None:
    """Importing the module that holds it must not turn ``conndebug.client.connect`` into a
    module (a submodule of the same name as a function would be set on the package when first
    imported: the monitor then called a module)."""
    code = (
        "import conndebug.client.connecting\n"
        "from conndebug.client import connect, target_from_settings\n"
        "print(callable(connect) and connect.__module__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "conndebug.client.connecting"
