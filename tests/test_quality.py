"""Quality flags: planted bad results are flagged, a real result is not; the batch's flags and table."""

import pytest
import torch

from conftest import DEVICE, PHOTO, STYLE, tiny
from nst_core.core.scoring import Yardstick, painting_grams, score
from nst_core.errors import NSTError
from nst_core.files.tensors import load_source, save_image
from nst_core.outputs import quality
from nst_core.running.jobs import Artwork, stylize_photo

SIZE = 64


@pytest.fixture(scope="module")
def yardstick():
    photo = load_source(str(PHOTO))
    return photo.tensor(SIZE), Yardstick(photo.tensor(SIZE)), painting_grams([load_source(str(STYLE))], SIZE)


def flags_of(image, yardstick):
    _, stick, grams = yardstick
    return quality.image_flags(stick.measure(image, grams), quality.Thresholds())


def test_planted_bad_results_are_flagged(yardstick):
    photo = yardstick[0]
    noise = torch.rand(photo.shape, generator=torch.Generator().manual_seed(0))
    with_nan = photo.clone()
    with_nan[0, :, 5, 7] = float("nan")
    assert {"flat", "clipped"} <= set(flags_of(torch.zeros_like(photo), yardstick))  # black
    assert {"flat", "clipped"} <= set(flags_of(torch.ones_like(photo), yardstick))  # white
    assert "flat" in flags_of(torch.full_like(photo, 0.5), yardstick)
    assert "weak_style" in flags_of(noise, yardstick)  # no further from the photo's style than the photo
    assert "weak_style" in flags_of(photo, yardstick)  # the photo unchanged
    assert "lost_layout" in flags_of(photo.flip(2, 3), yardstick)  # its content, in another layout
    assert "lost_layout" in flags_of(photo.mean((2, 3), keepdim=True).expand_as(photo), yardstick)  # none
    assert "lost_layout" not in flags_of(photo, yardstick)
    assert flags_of(with_nan, yardstick)[0] == "non_finite"


def test_a_stylized_image_is_not_flagged_and_its_record_matches_nst_score(tmp_path):
    output = tmp_path / "out.png"
    record = tmp_path / "record.tsv"
    settings = tiny(size=SIZE, iterations=40)
    artwork = Artwork(str(output), settings, (str(STYLE),), name="starry")
    (done,) = stylize_photo(str(PHOTO), [artwork], record=str(record))
    (entry,) = quality.read_record(str(record))
    assert entry["artwork"] == "starry" and (entry["width"], entry["height"]) == done.size
    assert entry["steps"] == done.steps == 40  # every final step: stopping is off
    assert (
        entry["seconds"] > 0 and entry["device"] == torch.device(DEVICE).type and entry["precision"] in ("fp32", "bf16")
    )
    assert quality.image_flags(entry, quality.Thresholds()) == [] and entry["finite"] is True
    assert entry["photo_style"] / entry["style"] > 1.5
    scored = score(str(output), str(PHOTO), str(STYLE))  # the file's scores, by another path
    assert entry["style"] == pytest.approx(scored["style"], rel=1e-3)
    assert entry["content"] == pytest.approx(scored["content"], rel=1e-3)


def rows_of(styles, contents, artwork="a"):
    return [
        {"photo": f"p{i}", "artwork": artwork, "style": s, "content": c, "flags": []}
        for i, (s, c) in enumerate(zip(styles, contents))
    ]


def test_batch_flags_mark_the_image_far_from_the_rest():
    styles = [0.10, 0.11, 0.09, 0.10, 0.12, 0.10, 0.11, 0.09, 0.10, 0.35]
    contents = [0.80, 0.82, 0.78, 0.81, 0.79, 0.80, 0.83, 0.77, 0.80, 0.81]
    rows = rows_of(styles, contents) + rows_of([0.1] * 3, [0.8, 0.8, 2.5], artwork="b")
    quality.batch_flags(rows, quality.Thresholds())
    flagged = {(row["artwork"], row["photo"]): row["flags"] for row in rows if row["flags"]}
    # a's p9 has an unusual style score; b has too few images for outliers, and a content distance
    # far from the batch's is no flag by itself (a style's texture raises it: lost_layout reads the
    # image's layout)
    assert flagged == {("a", "p9"): ["outlier"]}


def test_an_artwork_with_few_images_or_equal_scores_has_no_outliers():
    rows = rows_of([0.1] * 9, [0.8] * 9)
    quality.batch_flags(rows, quality.Thresholds())
    assert all(row["flags"] == [] for row in rows)
    rows = rows_of([0.1, 0.1, 0.9], [0.8] * 3)
    quality.batch_flags(rows, quality.Thresholds())
    assert all(row["flags"] == [] for row in rows)


def test_worst_first_orders_by_the_most_severe_flag():
    rows = rows_of([0.3, 0.2, 0.5, 0.1], [1, 1, 1, 1])
    for row, flags in zip(rows, [["weak_style"], ["flat", "clipped"], ["weak_style"], []]):
        row["flags"] = flags
    assert [row["photo"] for row in quality.worst_first(rows)] == ["p1", "p2", "p0"]


def test_thresholds_are_checked_with_a_suggestion():
    assert quality.thresholds({"weak_style": 2}).weak_style == 2.0
    assert quality.thresholds(None) == quality.Thresholds()
    with pytest.raises(NSTError, match="unknown threshold 'weak_styel'; did you mean 'weak_style'"):
        quality.thresholds({"weak_styel": 2})
    with pytest.raises(NSTError, match="outlier_min: give a positive whole number, not 2.5"):
        quality.thresholds({"outlier_min": 2.5})
    with pytest.raises(NSTError, match="flat: give a positive number, not 'x'"):
        quality.thresholds({"flat": "x"})
    with pytest.raises(
        NSTError, match="lost_layout: give a correlation under 1, not 3 .before 6 December 2026 a multiple"
    ):
        quality.thresholds({"lost_layout": 3})  # a config from before


def test_the_table_has_a_row_per_entry_and_flags_comma_separated(tmp_path):
    record = tmp_path / "p.tsv"
    entry = {"artwork": "a", "width": 64, "height": 48, "seconds": 1.5, "steps": 120, "peak_gib": 0.5, "device": "cpu"}
    entry.update(precision="fp32", style=0.4, content=1.0, layout=0.3, photo_style=0.5, spread=0.0, clipped=1.0)
    entry.update(finite=True)
    entry.update(style_weight=2.0, style_target=1.5)  # a style ratio of 0.5 / 0.4 = 1.25: short of it
    quality.write_record(str(record), [entry])
    rows = quality.rows({"my photo": str(record), "missing": str(tmp_path / "none.tsv")}, quality.Thresholds())
    lines = quality.table_bytes(rows).decode().splitlines()
    assert lines[0].split("\t") == [*quality.COLUMNS, "flags"]
    assert lines[1].split("\t") == ["my photo", "a", "64", "48", "1.5", "120", "2", "1.25", "0.5", "cpu", "fp32"] + [
        "0.4",
        "1",
        "0.3",
        "",  # frames and warping error: a video's
        "",
        "flat,clipped,lost_layout,weak_style,short_of_target",
    ]


def test_nst_check_prints_scores_and_flags_with_an_exit_status(tmp_path, cli):
    photo_png = tmp_path / "photo.png"
    save_image(load_source(str(PHOTO)).tensor(SIZE), str(photo_png))
    code, out, err = cli("check", photo_png, "--photo", PHOTO, "--style", STYLE)
    assert code == 1 and "flags: weak_style" in out and out.startswith(f"{photo_png}: style ")
    code, out, _ = cli("check", photo_png, "--photo", PHOTO, "--style", STYLE, "--weak-style", "0.5")
    assert code == 0 and out.rstrip().endswith("flags: none")
    turned_png = tmp_path / "turned.png"  # the photo upside down: its content in another layout
    save_image(load_source(str(PHOTO)).tensor(SIZE).flip(2, 3), str(turned_png))
    code, out, _ = cli("check", turned_png, "--photo", PHOTO, "--style", STYLE, "--lost-layout", "0.35")
    assert code == 1 and "lost_layout" in out and ", layout " in out
    code, out, err = cli("check", tmp_path / "none.png", "--photo", PHOTO, "--style", STYLE)
    assert code == 2 and err.strip() == f"nst check: error: {tmp_path / 'none.png'}: no such file"


def test_an_image_up_to_date_keeps_its_entry_or_is_measured_from_its_file(tmp_path):
    output, record = tmp_path / "out.png", tmp_path / "record.tsv"
    artwork = Artwork(str(output), tiny(), (str(STYLE),), name="starry")
    stylize_photo(str(PHOTO), [artwork], skip_unchanged=True)  # made before records were kept
    (done,) = stylize_photo(str(PHOTO), [artwork], skip_unchanged=True, record=str(record))
    assert not done.written
    (entry,) = quality.read_record(str(record))
    assert entry["seconds"] is None and entry["artwork"] == "starry"
    assert entry["style"] == pytest.approx(score(str(output), str(PHOTO), str(STYLE))["style"], rel=1e-3)
    quality.write_record(str(record), [{**entry, "seconds": 12.5}])  # as a job that made it would
    stylize_photo(str(PHOTO), [artwork], skip_unchanged=True, record=str(record))
    (kept,) = quality.read_record(str(record))
    assert kept == {**entry, "seconds": 12.5}
