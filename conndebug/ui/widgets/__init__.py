"""The panels of the main screen, one widget per module."""

from conndebug.ui.widgets.connection_panel import ConnectionPanel
from conndebug.ui.widgets.demo_panel import DemoPanel
from conndebug.ui.widgets.events_log import EventsLog
from conndebug.ui.widgets.history_log import HistoryLog
from conndebug.ui.widgets.insecure_banner import InsecureBanner
from conndebug.ui.widgets.session_panel import SessionPanel
from conndebug.ui.widgets.status_panel import StatusPanel
from conndebug.ui.widgets.target_panel import TargetPanel
from conndebug.ui.widgets.wire_inspector import WireInspector
from conndebug.ui.widgets.wire_log import WireLog

__all__ = [
    "ConnectionPanel",
    "DemoPanel",
    "EventsLog",
    "HistoryLog",
    "InsecureBanner",
    "SessionPanel",
    "StatusPanel",
    "TargetPanel",
    "WireInspector",
    "WireLog",
]
