"""Stopping a training run on request: SLURM's warning signal, ``scancel``, Ctrl-C.

    with StopRequests() as stop:          # installs handlers for SIGUSR1, SIGTERM, SIGINT
        for step in ...:
            ...optimiser step...
            if stop.requested:
                save a checkpoint here; raise TrainingStopped(stop.signal_name)

A signal only sets a flag: the training loop checks it after each optimiser
step, saves a full checkpoint there (mid-epoch, with the position in the epoch)
and stops, so a stop never waits for the end of an epoch and never loses one.
A second SIGINT (an impatient Ctrl-C) raises ``KeyboardInterrupt`` at once.

On SLURM, ``sbatch --signal=USR1@<seconds>`` sends SIGUSR1 that long before the
time limit; the job then exits non-zero after its checkpoint and Snakemake's
``retries`` (profiles/slurm) submit it again, resuming from that step.  Fabric has
no such handler (Lightning's Trainer has one; Fabric does not).
"""

from __future__ import annotations

import logging
import signal
import threading

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGUSR1, signal.SIGTERM, signal.SIGINT)


class TrainingStopped(RuntimeError):
    """Training stopped on a signal after saving a checkpoint it resumes from."""

    def __init__(self, signal_name: str, where: str):
        super().__init__(f"training stopped by {signal_name} {where}: checkpoint saved, rerun to resume")
        self.signal_name = signal_name


class SignalHandlers:
    """Context manager: while active, ``signals`` call :meth:`_handle`; the previous handlers come back on exit."""

    def __init__(self, signals=STOP_SIGNALS):
        self.signals = tuple(signals)
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:  # pragma: no cover - subclasses say what a signal does
        raise NotImplementedError

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # handlers can only be set there
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


class StopRequests(SignalHandlers):
    """While active, the stop signals set :attr:`requested` instead of killing the process."""

    def __init__(self, signals=STOP_SIGNALS,
                 action: str = "saving a checkpoint at the next optimiser step, then stopping"):
        super().__init__(signals)
        self.signum: int | None = None
        self.action = action  # what the process does on a stop request, for the log line

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    def _handle(self, signum, frame) -> None:
        if signum == signal.SIGINT and self.signum == signal.SIGINT:
            raise KeyboardInterrupt
        if self.signum is None:
            log.warning("%s received: %s", signal.Signals(signum).name, self.action)
        self.signum = signum
