"""conndebug: see and explain what happens to a Socket.IO connection.

Importing the package is cheap: it pulls in nothing but the version. The CLI imports the heavy
parts (python-socketio, httpx, Textual) only for the command that needs them.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
