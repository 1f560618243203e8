"""Exports to the national reporting system: documents from the marts, delivered exactly once.

Public entry points: `run_exports`, `list_submissions`, `show_document`, `resend` (runner) and
`register` (CLI hook). Imports are lazy so `import chiso.export` stays cheap for DAG parsing.
"""

from __future__ import annotations

__all__ = ["list_submissions", "register", "resend", "run_exports", "show_document"]


def __getattr__(name: str):
    if name in ("run_exports", "list_submissions", "show_document", "resend"):
        from chiso.export import runner

        return getattr(runner, name)
    if name == "register":
        from chiso.export.cli import register

        return register
    raise AttributeError(name)
