"""What a job tells as it goes, to one listener: the `nst` command prints it, a benchmark traces
the steps; the library's default tells nothing (and shows a bar only on a terminal)."""

from __future__ import annotations


class Reporter:
    """Override what you listen to. bar: a progress bar; True, False, or None (only on a
    terminal)."""

    def __init__(self, bar: bool | None = None):
        self.bar = bar

    def device(self, text: str) -> None:
        """Before the work: the device and precision it runs with (once for each)."""

    def note(self, text: str) -> None:
        """How a scale fits in memory where memory shapes it; how far a long run is (about once
        a minute, for a log or console where no bar shows)."""

    def image(self, artwork, stylized) -> None:
        """Each image of a photo job as it is written, found up to date or fails (jobs.Stylized)."""

    def step(self, scale: int, step: int, images) -> None:
        """After every optimiser step: the batch's images at this scale ([B, 3, H, W])."""

    def frame(self, video: str, number: int, frames: int, artworks: int, seconds: float) -> None:
        """Each frame of a video job once it is made in its artworks' styles: its number (from
        0) of the video's frames, and the seconds it took."""

    def about(self, subject: str) -> Reporter:
        """This reporter, its notes saying what they are about (a photo, its images)."""
        return _About(self, subject)


class _About(Reporter):
    def __init__(self, reporter: Reporter, subject: str):
        super().__init__(reporter.bar)
        self.reporter, self.subject = reporter, subject
        self.device, self.image, self.step, self.frame = reporter.device, reporter.image, reporter.step, reporter.frame

    def note(self, text: str) -> None:
        self.reporter.note(f"{self.subject}: {text}")


QUIET = Reporter(bar=False)  # nothing told, no bar


def duration(seconds: float) -> str:
    """12 s, 5 min, 1.5 h."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
