"""Outputs that can stall or fill: whole lines, a bounded wait, and every failure counted and said.

Everything conndebug writes while it runs — ``watch``'s stdout, the ``--log`` file, ``probe``'s
stdout and its ``--report`` — goes through a :class:`LineOutput`. What it does depends on what the
descriptor is:

- **a regular file**: each :meth:`~LineOutput.write` goes out at once with ``os.write`` (a copy
  into the page cache, which never waits for a reader), so a process killed with SIGKILL loses
  nothing already published (SECURITY.md, promise 5). A short write followed by an error (the disk
  filled up, a size limit) is cut back to the last whole line with ``ftruncate``: the file always
  ends on a whole line.
- **anything else** (a pipe, a FIFO, a socket, a terminal, a character device such as
  ``/dev/full``): a writer thread writes, the caller only queues. The thread waits with ``poll``
  until the descriptor can take data, then writes at most ``PIPE_BUF`` bytes cut at a line end,
  which a pipe takes whole or not at all; so it never hangs inside a write for long, and it can be
  given up between two writes. The queue is bounded (:data:`MAX_PENDING` bytes): when it is full
  the caller waits for room — for as long as the reader keeps reading (a slow reader slows the
  producer; nothing is lost) — but once no byte has gone out for :data:`STALL_S` seconds, the
  output is **stalled**: it stops for good and every later line is counted as not written.

A stopped output (an error or a stall) says why in :attr:`LineOutput.problem` — ``"--log stopped
after 12 events: No space left on device"`` — and calls ``on_stop`` once, on the event loop's
thread. :meth:`LineOutput.close` waits at most its ``timeout`` for the queue to drain, then gives
up the rest (counted). A reader that went away (``EPIPE``) is an error like the others; callers
that treat it as the normal end of a pipeline (``watch | head``) check :attr:`LineOutput.gone`.

:func:`open_for_writing` opens a path without hanging on a FIFO that nobody reads: non-blocking,
retried for a bounded time, then a :class:`~conndebug.core.errors.ConfigError`.

Hand-written because no library bounds both sides: Python's buffered files block in ``write``
and ``flush``, and asyncio's pipe transports set ``O_NONBLOCK`` on the descriptor, which is shared
with whoever else holds it (a terminal, the parent shell, a second command in the pipeline).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import os
import select
import stat
import threading
import time
from collections.abc import Callable

from conndebug.core.errors import ConfigError

__all__ = [
    "CLOSE_S",
    "FIFO_WAIT_S",
    "MAX_PENDING",
    "STALL_S",
    "LineOutput",
    "aopen_for_writing",
    "hold_standard_streams",
    "open_for_writing",
    "write_bounded",
]

MAX_PENDING = 4 << 20
"""Bytes queued for a pipe, FIFO or terminal before the caller waits for room."""
STALL_S = 0.5
"""An output whose queue is full and that took no byte for this long is stalled (stops for good)."""
CLOSE_S = 0.5
"""How long closing waits for what is queued to go out."""
FIFO_WAIT_S = 2.0
"""How long opening a FIFO waits for a reader before giving up."""
_POLL_MS = 50
_PIECE = getattr(select, "PIPE_BUF", 512)
"""The largest write a pipe takes whole or not at all (POSIX: at least 512; Linux: 4096)."""


_CLOSED_AT_START: set[int] = set()
"""Standard descriptors (0, 1, 2) that were closed when the process started."""


def hold_standard_streams() -> None:
    """Note which of stdin, stdout and stderr are closed, and hold their numbers with /dev/null.

    Called first thing by the CLI. A closed stdout's number is otherwise the next one the process
    opens — a socket, the event loop's epoll — and lines meant for stdout would go into it; held,
    a :class:`LineOutput` on it still reports ``Bad file descriptor``.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            _CLOSED_AT_START.add(fd)
            with contextlib.suppress(OSError):
                null = os.open(os.devnull, os.O_RDWR)
                if null != fd:
                    os.dup2(null, fd)
                    os.close(null)


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


class LineOutput:
    """Whole lines to one file descriptor, never blocking the caller for long (see the module)."""

    def __init__(
        self,
        fd: int,
        *,
        name: str,
        unit: str = "lines",
        owns_fd: bool = False,
        on_stop: Callable[[LineOutput], None] | None = None,
        max_pending: int = MAX_PENDING,
        stall_s: float = STALL_S,
    ) -> None:
        self.fd = fd
        self.name = name
        """How messages name the output: ``--log``, ``stdout``, ``--report``."""
        self.unit = unit
        """What a line is, in messages: ``lines`` or ``events``."""
        self.lines = 0
        """Whole lines written."""
        self.lost = 0
        """Lines not written (after a stop, or given up at close)."""
        self.error: str | None = None
        """Why the output stopped (``No space left on device``...), or ``None``."""
        self.gone = False
        """The reader went away (``EPIPE``): the end of a pipeline rather than a failure."""
        self._owns_fd = owns_fd
        self._on_stop = on_stop
        self._max_pending = max_pending
        self._stall_s = stall_s
        self._loop: asyncio.AbstractEventLoop | None = None
        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()
        self._cond = threading.Condition()
        self._queue: collections.deque[bytes] = collections.deque()
        self._pending = 0
        self._progress_at = time.monotonic()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._abandon = False
        self._closed = False
        self._told = False
        self._closer: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None
        """:meth:`aclose`'s wait, woken by the writer thread as soon as the queue is drained."""
        try:
            if fd in _CLOSED_AT_START:
                raise OSError(errno.EBADF, os.strerror(errno.EBADF))
            mode = os.fstat(fd).st_mode
        except OSError as exc:  # a closed stdout (``>&-``): nothing can be written
            self.direct = True
            self._stop(_reason(exc))
            return
        self.direct = stat.S_ISREG(mode)
        """Written at once (a regular file), not by the writer thread."""

    # -- state -----------------------------------------------------------------------------------
    @property
    def stopped(self) -> bool:
        """True once the output failed or stalled: later lines are only counted."""
        return self.error is not None

    @property
    def stalled(self) -> bool:
        """True when it stopped because nobody read it (rather than an error)."""
        return self.error is not None and self.error.startswith("stalled")

    @property
    def problem(self) -> str | None:
        """``"<name> stopped after N <unit>: <reason>"`` (and what was lost), or ``None``."""
        if self.error is None:
            return None
        text = f"{self.name} stopped after {self.lines} {self.unit}: {self.error}"
        if self.lost:
            text += f" ({self.lost} not written)"
        return text

    # -- writing ---------------------------------------------------------------------------------
    def write(self, text: str) -> bool:
        """Write ``text`` (one or more whole lines, each ending in a newline); ``False`` if the
        output has stopped (the lines are counted as lost)."""
        if not text:
            return not self.stopped
        count = text.count("\n")
        if self.stopped or self._closed:
            self.lost += count
            return False
        data = text.encode("utf-8", "surrogateescape")
        if self.direct:
            return self._write_now(data, count)
        return self._enqueue(data, count)

    def _write_now(self, data: bytes, count: int) -> bool:
        written = 0
        try:
            while written < len(data):
                written += os.write(self.fd, data[written:])
        except OSError as exc:
            if written:
                self._cut_back(written)
            self.lost += count
            self._stop(_reason(exc))
            return False
        self.lines += count
        return True

    def _cut_back(self, written: int) -> None:
        """Remove the start of a line that a failed write left at the end of a regular file."""
        with contextlib.suppress(OSError):
            end = os.lseek(self.fd, 0, os.SEEK_CUR)
            os.ftruncate(self.fd, end - written)
            os.lseek(self.fd, end - written, os.SEEK_SET)

    def _enqueue(self, data: bytes, count: int) -> bool:
        with self._cond:
            while self._pending and self._pending + len(data) > self._max_pending:
                if self.stopped:
                    break
                idle = time.monotonic() - self._progress_at
                if idle >= self._stall_s:
                    self._stop(f"stalled: nobody read it for {self._stall_s:g} s", locked=True)
                    break
                self._cond.wait(min(0.05, self._stall_s - idle))
            if self.stopped:
                self.lost += count
                return False
            if not self._queue:
                self._progress_at = time.monotonic()
            self._queue.append(data)
            self._pending += len(data)
            self._cond.notify_all()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"conndebug-output-{self.name}", daemon=True
            )
            self._thread.start()
        return True

    # -- the writer thread -------------------------------------------------------------------------
    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.fd, select.POLLOUT)
        while True:
            with self._cond:
                while not self._queue and not self._closing and not self.stopped:
                    self._cond.wait()
                if self.stopped or not self._queue:
                    return
                chunk = self._queue[0]
            if not self._write_chunk(poller, chunk):
                return
            with self._cond:
                if self._queue and self._queue[0] is chunk:
                    self._queue.popleft()
                self._cond.notify_all()
                if not self._queue:
                    self._wake_closer()

    def _write_chunk(self, poller: select.poll, chunk: bytes) -> bool:
        offset = 0
        while offset < len(chunk):
            if not self._wait_writable(poller):
                return False
            piece = chunk[offset : offset + _PIECE]
            if len(piece) == _PIECE and offset + _PIECE < len(chunk):
                end = piece.rfind(b"\n")
                if end >= 0:
                    piece = piece[: end + 1]
            try:
                n = os.write(self.fd, piece)
            except InterruptedError:
                continue
            except BlockingIOError:  # someone else's O_NONBLOCK on a shared descriptor
                time.sleep(_POLL_MS / 1000)
                continue
            except OSError as exc:
                with self._cond:
                    if self._abandon or self.stopped:  # given up meanwhile: already counted
                        return False
                    if self._queue and self._queue[0] is chunk:
                        self._queue.popleft()
                    self.lost += chunk.count(b"\n", offset)
                    self._stop(_reason(exc), locked=True, gone=exc.errno == errno.EPIPE)
                return False
            with self._cond:
                self.lines += piece.count(b"\n", 0, n)
                self._pending -= n
                self._progress_at = time.monotonic()
                self._cond.notify_all()
            offset += n
        return True

    def _wait_writable(self, poller: select.poll) -> bool:
        while True:
            if self._abandon or self.stopped:
                return False
            try:
                ready = poller.poll(_POLL_MS)
            except InterruptedError:
                continue
            if ready:
                # Writable, or an error the write will report; given up meanwhile: stop here.
                return not (self._abandon or self.stopped)

    # -- stopping --------------------------------------------------------------------------------
    def _stop(self, reason: str, *, locked: bool = False, gone: bool = False) -> None:
        if self.error is not None:
            return
        self.error = reason
        self.gone = gone
        if locked:
            self._drop_queue()
            self._cond.notify_all()
            self._wake_closer()
        else:
            with self._cond:
                self._drop_queue()
                self._cond.notify_all()
                self._wake_closer()
        self._tell()

    def _wake_closer(self) -> None:
        """Wake :meth:`aclose`'s wait (the queue is drained, or the output stopped); the
        condition's lock is held."""
        closer, self._closer = self._closer, None
        if closer is not None:
            loop, waiter = closer
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, waiter)

    def _drop_queue(self) -> None:
        self.lost += sum(chunk.count(b"\n") for chunk in self._queue)
        self._queue.clear()
        self._pending = 0

    def _tell(self) -> None:
        """Call ``on_stop`` once, on the event loop's thread when there is one."""
        callback = self._on_stop
        if callback is None or self._told:
            return
        self._told = True
        loop = self._loop
        if loop is None or loop.is_closed():  # no loop (a synchronous caller): tell now
            callback(self)
            return
        # Later, from the loop: never inside the write (a subscriber of the bus) or the thread.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(callback, self)

    def _drained(self) -> bool:
        with self._cond:
            return not self._queue or self.stopped

    def _finish(self, timeout: float) -> None:
        """After the wait: give up what is left, close the descriptor if it is ours."""
        with self._cond:
            if self._queue and not self.stopped:
                self._abandon = True
                self._drop_queue()
                self.error = f"stalled: nobody read the last lines within {timeout:g} s"
            self._closing = True
            self._cond.notify_all()
        if self._abandon:
            self._tell()
        self._closed = True
        if self._thread is not None:
            self._thread.join(0.1)  # it ends at its next poll (a write given up may hang it)
        thread_busy = self._thread is not None and self._thread.is_alive()
        if self._owns_fd and not thread_busy:  # a thread still inside a write keeps its fd
            with contextlib.suppress(OSError):
                os.close(self.fd)

    def close(self, timeout: float = CLOSE_S) -> None:
        """Wait up to ``timeout`` for the queue to go out, then give up the rest (idempotent).

        Blocks the caller for at most ``timeout``; in a coroutine prefer :meth:`aclose`.
        """
        if self._closed:
            return
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            deadline = time.monotonic() + timeout
            while self._queue and not self.stopped:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(0.05, left))
        self._finish(timeout)

    async def aclose(self, timeout: float = CLOSE_S, *, while_reading: bool = False) -> None:
        """:meth:`close` without blocking the event loop while it waits.

        With ``while_reading`` the wait goes on as long as the reader keeps taking bytes, and
        ends after ``timeout`` seconds without one (a report or a verdict a slow reader still
        wants); otherwise ``timeout`` bounds the whole wait. Cancelled, it gives up at once.
        """
        if self._closed:
            return
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        loop = asyncio.get_running_loop()
        try:
            while not self._drained():
                now = time.monotonic()
                if while_reading:
                    deadline = max(deadline, self._progress_at + timeout)
                if now >= deadline:
                    break
                # Woken by the writer thread once the queue is drained (a verdict's few lines
                # are out within a millisecond: a fixed 10 ms nap was most of a probe's end),
                # and every 10 ms to look at the deadline.
                waiter = loop.create_future()
                with self._cond:
                    if not self._queue or self.stopped:
                        break
                    self._closer = (loop, waiter)
                nap = loop.call_later(0.01, _settle, waiter)
                try:
                    await waiter
                finally:
                    nap.cancel()
                    with self._cond:
                        self._closer = None
        finally:
            self._finish(timeout)


def open_for_writing(
    path: str, *, name: str, append: bool = True, wait_s: float = FIFO_WAIT_S
) -> int:
    """Open ``path`` for writing and return the descriptor, without hanging on a FIFO.

    A FIFO is opened non-blocking, retried every 20 ms for ``wait_s`` seconds while nobody reads
    it; then a :class:`ConfigError` says so. The descriptor is blocking again once open (the
    writer thread waits with ``poll``).
    """
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | os.O_NONBLOCK
    flags |= os.O_APPEND if append else os.O_TRUNC
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fd = os.open(path, flags, 0o644)
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: a FIFO with no reader
                raise ConfigError(f"{name} {path!r} cannot be opened", _reason(exc)) from None
            if time.monotonic() >= deadline:
                raise ConfigError(
                    f"{name} {path!r} is a FIFO that nobody reads (waited {wait_s:g} s)",
                    "start its reader first (e.g. `cat FIFO`), or give a regular file",
                ) from None
            time.sleep(0.02)
    with contextlib.suppress(OSError):
        os.set_blocking(fd, True)
    return fd


async def aopen_for_writing(
    path: str, *, name: str, append: bool = True, wait_s: float = FIFO_WAIT_S
) -> int:
    """:func:`open_for_writing` that waits for a FIFO's reader without blocking the event loop
    (so a Ctrl-C meanwhile is answered at once)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return open_for_writing(path, name=name, append=append, wait_s=0.0)
        except ConfigError:
            if time.monotonic() >= deadline or not _is_fifo(path):
                if _is_fifo(path):
                    raise ConfigError(
                        f"{name} {path!r} is a FIFO that nobody reads (waited {wait_s:g} s)",
                        "start its reader first (e.g. `cat FIFO`), or give a regular file",
                    ) from None
                raise
        await asyncio.sleep(0.02)


def _is_fifo(path: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def write_bounded(fd: int, text: str, *, timeout: float = CLOSE_S, name: str = "stderr") -> bool:
    """Write ``text`` to ``fd`` and wait at most ``timeout`` for it to go out (a message on
    stderr that nobody reads must not hang the exit); ``True`` if all of it was written."""
    out = LineOutput(fd, name=name)
    out.write(text if text.endswith("\n") else text + "\n")
    out.close(timeout)
    return out.error is None
