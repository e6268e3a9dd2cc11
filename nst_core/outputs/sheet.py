"""Labelled contact sheets: images as thumbnails in a grid, each with its label right below it.

A path of "-" leaves its cell empty (the corner of an overview grid).
"""

from __future__ import annotations

import math

from PIL import Image, ImageDraw, ImageFont

from ..errors import NSTError
from ..files.image_files import fit_long_side, load_pil, save_picture
from ..files.storage import file_stem

EMPTY = "-"
# Pillow's own limit for images it decodes (89 Mpx, about 270 MB in RGB).
MAX_SHEET_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


CELL = 256  # px, a cell's long side by default (the pipeline's: sheets.cell)


def _label_for(path: str) -> str:
    return "" if path == EMPTY else file_stem(path)


def _fit_text(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """Shorten text with an ellipsis until it fits the cell width."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def make_sheet(paths, columns: int | None = None, cell: int = CELL, labels=None) -> Image.Image:
    """A grid of thumbnails (long side = cell px) with labels (default: file names); paths are
    files, or decoded Pillow images (then give labels)."""
    paths = list(paths)
    if not paths:
        raise NSTError("a contact sheet needs at least one image")
    if cell < 16:
        raise NSTError(f"cell size {cell} is too small (at least 16 px)")
    labels = [_label_for(p) for p in paths] if labels is None else list(labels)
    if len(labels) != len(paths):
        raise NSTError(f"{len(labels)} labels for {len(paths)} images")
    columns = columns or math.ceil(math.sqrt(len(paths)))
    if columns < 1:
        raise NSTError(f"columns must be at least 1, not {columns}")
    columns = min(columns, len(paths))  # no empty columns on a short sheet
    rows = math.ceil(len(paths) / columns)
    pad, text_height = max(4, cell // 32), max(10, cell // 16) + 6
    cell_w = cell + 2 * pad
    if columns * cell_w * rows * (cell + text_height + 2 * pad) > MAX_SHEET_PIXELS:  # before reading any
        raise NSTError(
            f"a sheet of {columns * cell_w}x{rows * (cell + text_height + 2 * pad)} px is too large "
            f"(at most {MAX_SHEET_PIXELS / 1e6:.0f} Mpx): use a smaller --cell or fewer images per sheet"
        )
    # all read (and checked) before drawing; a decoded image (a video's frame) is taken as it is
    images = [None if p == EMPTY else p if isinstance(p, Image.Image) else load_pil(p) for p in paths]
    # Each row as tall as its tallest thumbnail: landscape photos leave no blank band between rows.
    sizes = [image and fit_long_side(image.size, cell) for image in images]
    heights = [
        max((size[1] for size in sizes[row * columns : (row + 1) * columns] if size), default=0) for row in range(rows)
    ]
    tops = [sum(height + text_height + 2 * pad for height in heights[:row]) for row in range(rows + 1)]
    font = ImageFont.load_default(size=max(10, cell // 16))
    sheet = Image.new("RGB", (columns * cell_w, tops[-1]), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for index, (image, label) in enumerate(zip(images, labels)):
        row, x0 = index // columns, (index % columns) * cell_w
        if image is None:
            continue
        thumb = image.resize(fit_long_side(image.size, cell), Image.LANCZOS)
        top = tops[row] + pad + (heights[row] - thumb.height) // 2
        sheet.paste(thumb, (x0 + pad + (cell - thumb.width) // 2, top))
        printable = "".join(c if c.isprintable() else " " for c in label)  # one line, whatever the name
        text = _fit_text(draw, printable, font, cell)
        # Right under its image, not at the row's foot: under a wide image the foot is nearer the
        # next row's image, and the label would seem to name it.
        draw.text((x0 + cell_w // 2, top + thumb.height + 3), text, fill=INK, font=font, anchor="mt")
    return sheet


def write_sheet(paths, output: str, columns: int | None = None, cell: int = CELL, labels=None) -> tuple[int, int]:
    """Write the sheet; its (width, height)."""
    sheet = make_sheet(paths, columns, cell, labels)
    save_picture(sheet, output)
    return sheet.size
