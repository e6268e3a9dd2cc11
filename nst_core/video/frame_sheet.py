"""A video's contact sheet: a row of its frames, evenly spaced, then the same frames in each
artwork's style, a row per artwork. No torch here."""

from __future__ import annotations

from ..files.image_files import save_picture
from ..outputs.sheet import make_sheet
from .plan import load_plan
from .video_files import frames, scan


def write_frame_sheet(source: str, plan: str, stylized: dict, output: str, columns: int = 6, cell: int = 192):
    """The sheet of the source video (as its plan says it is) and stylized (artwork name -> its
    video), `columns` frames a row, written atomically."""
    video = load_plan(plan, source)[0]
    chosen = sorted({round(n * (video.frames - 1) / max(columns - 1, 1)) for n in range(columns)})
    rows = [("", video)] + [(name, scan(path)) for name, path in stylized.items()]
    cells, labels = [], []
    for name, source in rows:
        size = (source.width, source.height)
        for index in chosen:
            (frame,) = frames(source, size, index, 1)
            cells.append(frame)
            labels.append(f"{name} {index + 1}".strip() if name else f"frame {index + 1} ({video.times[index]:.2f} s)")
    save_picture(make_sheet(cells, len(chosen), cell, labels), output)
