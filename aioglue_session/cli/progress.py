"""Progress on stderr, drawn only on a terminal, never mixed into a line of output."""

from __future__ import annotations

import time
from typing import IO

__all__ = ["Progress"]


class Progress:
    """A progress bar on stderr, drawn only when stderr is a terminal.

    The bar is a line without a newline, redrawn in place with ``\\r``. When stdout is a terminal
    too (usually the same one), an output line written while the bar is showing would start
    right after it, so ``clear`` erases the bar (``\\r`` + erase-to-end-of-line) before each
    output line and ``tick`` draws it again below. Otherwise redraws are throttled to ten a
    second.
    """

    def __init__(
        self,
        stream: IO[str],
        total: int | None,
        *,
        enabled: bool,
        shares_terminal: bool = False,
        label: str = "",
        count_failures: bool = True,
    ) -> None:
        self._stream = stream
        self._total = total
        self._enabled = enabled
        self._clear_before_output = enabled and shares_terminal
        self._label = label
        self._count_failures = count_failures
        self._visible = False
        self._shown = (0, 0)  # (done, failed) as last drawn
        self._last = 0.0
        self.done = 0
        self.failed = 0

    def clear(self) -> None:
        """Erase the bar, if it is showing."""
        if self._visible:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._visible = False

    def write_line(self, out: IO[str], line: str) -> None:
        """Write one output line to ``out`` without mixing it into the bar."""
        if self._clear_before_output:
            self.clear()
        out.write(line + "\n")
        out.flush()

    def tick(self, ok: bool = True, done: int | None = None) -> None:
        self.done = self.done + 1 if done is None else done
        self.failed += not ok
        if not self._enabled:
            return
        now = time.monotonic()
        if not self._visible or now - self._last >= 0.1 or self.done == self._total:
            self._last = now
            self._draw()

    def finish(self) -> None:
        """Leave the final state on screen, on a line of its own."""
        if self._enabled and self.done:
            if not self._visible or self._shown != (self.done, self.failed):
                self._draw()
            self._stream.write("\n")
            self._stream.flush()
            self._visible = False

    def _draw(self) -> None:
        failed = f" ({self.failed} failed)" if self._count_failures else ""
        label = f" {self._label}" if self._label else ""
        if self._total:
            filled = min(30, 30 * self.done // self._total)
            bar = "#" * filled + " " * (30 - filled)
            text = f"\r[{bar}] {self.done}/{self._total}{label}{failed}"
        else:
            text = f"\r{self.done}{label or ' looked up'}{failed}"
        self._stream.write(text + "\x1b[K")
        self._stream.flush()
        self._visible = True
        self._shown = (self.done, self.failed)

    def show(self, text: str) -> None:
        """Draw ``text`` as a one-line status in place of the bar (``watch``: after each output
        line, which ``write_line`` erased it for)."""
        if not self._enabled:
            return
        self._stream.write(f"\r{text}\x1b[K")
        self._stream.flush()
        self._visible = True
