"""The warehouse database itself: how every role connects (connections)."""
