"""The lines a config check writes, and the error that carries them."""

from __future__ import annotations

ERROR = "config error"
WARNING = "config warning"


class ConfigError(ValueError):
    """Every mistake of a config, one line each (``lines``); the message is those lines."""

    def __init__(self, lines: list[str]):
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))
