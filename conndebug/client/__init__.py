"""The observable Engine.IO / Socket.IO client (issue 12): codecs, transports, packet tap.

Sans-IO codecs (no network): :mod:`~conndebug.client.eio` (Engine.IO 4 and 3 packets and
payloads, the open packet, error bodies), :mod:`~conndebug.client.sio` (Socket.IO packets, the
default and msgpack parsers, binary attachments), :mod:`~conndebug.client.bounds` (clipped server
strings, bounded JSON), :mod:`~conndebug.client.tap` (one record per packet).
"""
