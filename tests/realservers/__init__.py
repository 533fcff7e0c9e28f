"""The matrix of real Socket.IO servers nobody here wrote, and the official client as the oracle."""
