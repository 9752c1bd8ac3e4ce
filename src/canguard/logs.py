"""Logging set-up shared by the workflow scripts and the command line."""

from __future__ import annotations

import logging
import sys


def setup_logging(logfile: str | None = None, level: int = logging.INFO, append: bool = False) -> logging.Logger:
    """Log to ``logfile`` (a rule's ``log:``; ``append``: after what an earlier attempt wrote there) or, without
    one, to stderr; with timestamps."""
    handlers: list[logging.Handler] = (
        [logging.FileHandler(logfile, mode="a" if append else "w")] if logfile else [logging.StreamHandler(sys.stderr)]
    )
    logging.basicConfig(
        level=level, handlers=handlers, force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return logging.getLogger("canguard")
