"""Windows of a live message stream, built exactly as the offline windows of a recording.

    stream = WindowStream(size=100, stride=100, profile=profile)
    for chunk in source:                       # Frames, a few messages or thousands at a time
        graphs = stream.push(chunk)            # the windows completed by this chunk (or None)

The k-th window covers the stream's messages ``[k * S, k * S + W)``, as
:func:`canguard.graphs.builder.window_starts` cuts a recording; messages after the
last complete window wait for the next chunk.  Each batch of completed windows is
built by the offline builder itself (:func:`canguard.graphs.builder.build_window_graphs`)
over the messages they cover, preceded by the last earlier message of each ID of the
profile (*context*): the relative features measure gaps and byte changes against the
previous message of the same ID and silences since an ID was last seen, in the
recording as a whole; intrinsic features never look outside their window.  So the
graphs of a stream are those of the recording it replays, bit for bit
(``tests/test_deploy.py``).

Messages are windowed in arrival order, never re-sorted: a message earlier than the
one before it (kept, and counted: :mod:`canguard.ingest.timestamps`) stays where it
arrived, as in the offline windows of the recording.

Memory is bounded: the messages of at most the windows not yet built, and one
context message per profile ID.
"""

from __future__ import annotations

import numpy as np

from canguard.frames import Frames
from canguard.graphs.builder import WindowGraphs, build_window_graphs
from canguard.profiles.profile import VehicleProfile


class WindowStream:
    """Windows of ``size`` messages every ``stride`` over pushed messages (see the module docstring)."""

    def __init__(self, size: int, stride: int, profile: VehicleProfile | None = None):
        if size < 1 or stride < 1:
            raise ValueError(f"window size and stride must be >= 1, got W={size}, S={stride}")
        self.size, self.stride, self.profile = size, stride, profile
        k = profile.num_ids if profile is not None else 0
        self._seen = np.zeros(k, bool)            # context: the last message of each profile ID
        self._ctx_t = np.zeros(k)
        self._ctx_dlc = np.zeros(k, np.uint8)
        self._ctx_payload = np.zeros((k, 8), np.uint8)
        self._buffer = Frames.empty()             # messages from self._first on
        self._first = 0                           # stream index of the buffer's first message
        self.messages = 0                         # messages pushed
        self.windows = 0                          # windows built; the next one starts at windows * stride
        self.t_origin: float | None = None        # time of the stream's first message

    @property
    def tail(self) -> int:
        """Messages pushed after the end of the last window built (they wait for their window to fill)."""
        built_to = (self.windows - 1) * self.stride + self.size if self.windows else 0
        return self.messages - built_to

    def push(self, frames: Frames, max_windows: int | None = None) -> WindowGraphs | None:
        """Add messages; the graphs of the windows they complete (``start``: stream index of each
        window's first message), or None.  ``max_windows`` caps how many are built at once (the
        rest come with the next push or :meth:`drain`)."""
        self.add(frames)
        return self._build(max_windows)

    def add(self, frames: Frames) -> None:
        """Add messages without building windows (:meth:`drain` builds them)."""
        if len(frames):
            if self.t_origin is None:
                self.t_origin = float(frames.timestamp[0])
            self._buffer = Frames.concat([self._buffer, frames]) if len(self._buffer) else frames
            self.messages += len(frames)

    def drain(self, max_windows: int | None = None):
        """Every window the pushed messages complete, in batches of at most ``max_windows``."""
        while (graphs := self._build(max_windows)) is not None:
            yield graphs

    def _build(self, max_windows: int | None) -> WindowGraphs | None:
        W, S = self.size, self.stride
        ready = (self.messages - W) // S + 1 - self.windows if self.messages >= W else 0
        if ready <= 0:
            return None
        if max_windows:
            ready = min(ready, max_windows)
        first = self.windows * S                            # stream index of the first window to build
        self._forget(first - self._first)                   # what lies before it is context only
        starts = first + S * np.arange(ready)
        end = int(starts[-1]) + W                           # one past the last message they cover
        lo, hi = 0, end - self._first                       # their messages in the buffer
        ctx = np.flatnonzero(self._seen)
        ctx = ctx[np.argsort(self._ctx_t[ctx], kind="stable")]
        n_ctx = len(ctx)
        frames = Frames.concat([
            Frames(self._ctx_t[ctx], self.profile.can_id[ctx] if n_ctx else np.zeros(0, np.uint32),
                   self._ctx_dlc[ctx], self._ctx_payload[ctx], np.full(n_ctx, -1, np.int8)),
            self._buffer.take(np.arange(lo, hi)),
        ]) if n_ctx else self._buffer.take(np.arange(lo, hi))
        graphs = build_window_graphs(frames, W, S, [self.profile] if self.profile is not None else None,
                                     starts=starts - first + n_ctx, t_origin=self.t_origin)
        graphs.start = starts.astype(np.int64)
        self.windows += ready
        self._forget(self.windows * S - self._first)        # no later window holds these
        return graphs

    def _forget(self, n: int) -> None:
        """Drop the first ``n`` buffered messages (no later window holds them), keeping each profile ID's
        last one as context."""
        n = min(n, len(self._buffer))
        if n <= 0:
            return
        gone = self._buffer.take(np.arange(n))
        if self.profile is not None:
            row = self.profile.row(gone.can_id)
            known = np.flatnonzero(row >= 0)
            if len(known):
                # the last message of each ID among those dropped
                rev = known[::-1]
                rows, first_in_rev = np.unique(row[rev], return_index=True)
                last = rev[first_in_rev]
                self._seen[rows] = True
                self._ctx_t[rows] = gone.timestamp[last]
                self._ctx_dlc[rows] = gone.dlc[last]
                self._ctx_payload[rows] = gone.payload[last]
        self._buffer = self._buffer.take(np.arange(n, len(self._buffer)))
        self._first += n
