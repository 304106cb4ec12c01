"""Progress of long operations: one look for ingests, builds, analyses, training and forecasts.

On a terminal a `rich` bar is redrawn in place on stderr (label, stage, bar, done/total,
elapsed, time left, details) and left on screen when the work ends. Anywhere else (a pipe, a
CI log, a test capturing the output) compact plain lines are printed instead, one when the
stage changes, when another `plain_step` of the work is done, and one at the end, so a log
stays readable. `quiet` prints nothing. `WEATHERCTL_PROGRESS=bar|plain|off` overrides the
choice (for example `plain` in a terminal recording, `bar` to force bars into a pipe).
"""

from __future__ import annotations

import math
import os
import sys
import time
from types import TracebackType
from typing import Literal, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

Mode = Literal["bar", "plain", "off"]
MODE_VARIABLE = "WEATHERCTL_PROGRESS"


def progress_mode(stream: TextIO, quiet: bool = False) -> Mode:
    """How progress is shown on stream: "off" when quiet, else the override in
    WEATHERCTL_PROGRESS, else "bar" on a terminal and "plain" anywhere else."""
    if quiet:
        return "off"
    chosen = os.environ.get(MODE_VARIABLE, "").strip().lower()
    if chosen in ("bar", "plain", "off"):
        return chosen  # type: ignore[return-value]
    try:
        return "bar" if stream.isatty() else "plain"
    except (AttributeError, ValueError):  # closed or unusual streams
        return "plain"


def clock(seconds: float) -> str:
    """Seconds as H:MM:SS (rich's style); "-:--:--" when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "-:--:--"
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class ProgressBar:
    """The progress of one piece of work (a context manager; `close` ends it).

    label names the work ("ingest navy-winds"), total is the amount of work (None: unknown),
    unit names what is counted ("epochs", "inits"; empty shows a percentage). `update` sets
    what is done, the stage and a free-form detail; the time left is the caller's estimate
    when it has one (a trainer's `seconds_left`), otherwise the elapsed time extrapolated.
    """

    def __init__(
        self,
        label: str,
        total: float | None = None,
        *,
        unit: str = "",
        quiet: bool = False,
        stream: TextIO | None = None,
        plain_step: float | None = None,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.mode = progress_mode(self.stream, quiet)
        # plain lines: one per plain_step of work (default: a quarter of the total)
        self.plain_step = plain_step if plain_step is not None else (total or 0) / 4
        self.completed = 0.0
        self.stage = ""
        self.detail = ""
        self.seconds_left: float | None = None
        self.started = time.monotonic()
        self.lines: list[str] = []  # the plain lines printed (for tests and callers)
        self._printed_at: float | None = None
        self._printed_stage: str | None = None
        self._closed = False
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        if self.mode == "bar":
            console = Console(file=self.stream, force_terminal=True, soft_wrap=False)
            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(bar_width=30),
                TextColumn("{task.fields[count]}"),
                TimeElapsedColumn(),
                TextColumn("left {task.fields[left]}"),
                TextColumn("{task.fields[detail]}"),
                console=console,
                transient=False,
                refresh_per_second=4,
            )
            self._bar.start()
            self._task = self._bar.add_task(
                self._description(), total=total, count=self._count(), left=self._left(), detail=""
            )

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def update(
        self,
        completed: float | None = None,
        *,
        total: float | None = None,
        stage: str | None = None,
        detail: str | None = None,
        seconds_left: float | None = None,
    ) -> None:
        """Records progress; redraws the bar or prints a plain line when one is due."""
        if self._closed:
            return
        if total is not None and total != self.total:
            self.total = total
            if not self.plain_step:
                self.plain_step = total / 4
        if completed is not None:
            self.completed = completed
        if stage is not None:
            self.stage = stage
        if detail is not None:
            self.detail = detail
        self.seconds_left = seconds_left if seconds_left else None
        if self.mode == "bar":
            self._redraw()
        elif self.mode == "plain" and self._plain_due():
            self._plain()

    def advance(self, amount: float = 1, *, detail: str | None = None) -> None:
        """Adds amount to what is done."""
        self.update(self.completed + amount, detail=detail)

    def close(self, detail: str | None = None) -> None:
        """Ends the bar (left on screen) or prints the last plain line."""
        if self._closed:
            return
        if detail is not None:
            self.detail = detail
        self.seconds_left = 0.0
        if self._bar is not None:
            self._redraw()
            self._bar.stop()
        elif self.mode == "plain" and (self._printed_at != self.completed or detail is not None):
            self._plain()
        self._closed = True

    # --- text shared by bars and plain lines

    def _description(self) -> str:
        return f"{self.label} {self.stage}".strip()

    def _count(self) -> str:
        if not self.total:  # nothing known yet, or a count without an end
            return f"{self.completed:g} {self.unit}".strip() if self.completed else ""
        if self.unit:
            return f"{self.completed:g}/{self.total:g} {self.unit}"
        return f"{100 * self.completed / self.total:5.1f}%"

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def left(self) -> float | None:
        """Seconds left: the caller's estimate, else the pace so far extrapolated."""
        if self.seconds_left is not None:
            return self.seconds_left
        if self.total and self.completed >= self.total:
            return 0.0
        if not self.total or self.completed <= 0:
            return None
        return self.elapsed() * (self.total - self.completed) / self.completed

    def _left(self) -> str:
        left = self.left()
        return clock(left) if left is not None else "-:--:--"

    def _redraw(self) -> None:
        assert self._bar is not None and self._task is not None
        self._bar.update(
            self._task,
            description=self._description(),
            completed=self.completed,
            total=self.total,
            count=self._count(),
            left=self._left(),
            detail=self.detail,
        )

    def _plain_due(self) -> bool:
        if self._printed_at is None or self.stage != self._printed_stage:
            return True
        return bool(self.plain_step) and self.completed - self._printed_at >= self.plain_step

    def plain_line(self) -> str:
        """The plain line of the current state."""
        parts = [self._description(), self._count(), f"elapsed {clock(self.elapsed())}"]
        left = self.left()
        if left is not None and not self._closed and left > 0:
            parts.append(f"left {clock(left)}")
        if self.detail:
            parts.append(self.detail)
        return "  " + "  ".join(part for part in parts if part)

    def _plain(self) -> None:
        line = self.plain_line()
        # results printed on stdout before this line appear before it in a combined log
        sys.stdout.flush()
        print(line, file=self.stream, flush=True)
        self.lines.append(line)
        self._printed_at = self.completed
        self._printed_stage = self.stage
