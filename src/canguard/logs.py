"""Logging set-up shared by the workflow scripts and the command line."""

from __future__ import annotations

import logging
import sys


def setup_logging(logfile: str | None = None, level: int = logging.INFO) -> logging.Logger:
    """Log to ``logfile`` (Snakemake's ``log:``) and to stderr, with timestamps."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if logfile:
        handlers.append(logging.FileHandler(logfile, mode="w"))
    logging.basicConfig(
        level=level, handlers=handlers, force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return logging.getLogger("canguard")
