"""The reference server: the chat backend's contract plus fault switches."""
