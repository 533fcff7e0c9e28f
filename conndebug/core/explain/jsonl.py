"""conndebug's own JSON lines (``watch --jsonl``, ``--log FILE``) back into history events.

Each line is :meth:`~conndebug.core.events.Event.to_dict`; fields an older or newer conndebug does
not share are dropped, kinds this version does not know are counted and said.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from typing import Any

from conndebug.core.events import EVENT_TYPES, Event, Note
from conndebug.core.explain.timeline import Timeline
from conndebug.core.redact import Redactor

__all__ = ["looks_like_jsonl", "read_jsonl"]

_BY_KIND = {cls.kind: cls for cls in EVENT_TYPES}
_FROM_JSON = {"from": "from_transport", "to": "to_transport"}


def _objects(text: str, limit: int | None = None) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines()[:limit]:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            out.append(data)
    return out


def looks_like_jsonl(text: str) -> bool:
    """Whether ``text`` is conndebug's JSON lines (objects with ts, t, kind, detail)."""
    objects = _objects(text, 50)
    return bool(objects) and all({"ts", "t", "kind"} <= set(o) for o in objects[:5])


def _epoch(stamp: Any) -> float:
    if isinstance(stamp, str):
        try:
            return _dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return 0.0


def read_jsonl(text: str, path: str, redactor: Redactor) -> Timeline:
    """The timeline of a conndebug JSONL history."""
    timeline = Timeline(source="jsonl", path=path, client="conndebug")
    unknown: dict[str, int] = {}
    for data in _objects(text):
        kind = data.get("kind")
        cls = _BY_KIND.get(str(kind))
        if cls is None:
            unknown[str(kind)] = unknown.get(str(kind), 0) + 1
            continue
        names = {f.name for f in dataclasses.fields(cls)} - {"ts", "t"}
        fields = {
            _FROM_JSON.get(key, key): redactor.value(value, key=key)
            for key, value in data.items()
            if _FROM_JSON.get(key, key) in names
        }
        t = data.get("t")
        try:
            event: Event = cls(
                ts=_epoch(data.get("ts")),
                t=float(t) if isinstance(t, (int, float)) else 0.0,
                **fields,
            )
        except TypeError:  # a required field is missing: keep the line as a note
            event = Note(
                ts=_epoch(data.get("ts")),
                t=float(t) if isinstance(t, (int, float)) else 0.0,
                text=redactor.text(str(data.get("detail", kind))),
            )
        timeline.events.append(event)
        if timeline.url is None and kind == "connecting":
            timeline.url = str(data.get("url") or "") or None
    for kind, count in unknown.items():
        timeline.gap(f"{count} line(s) of kind {kind!r} are not known to this conndebug")
    if timeline.events and not any(e.kind == "connecting" for e in timeline.events):
        timeline.gap("the log starts after the connection was made: its start is not recorded")
    return timeline
