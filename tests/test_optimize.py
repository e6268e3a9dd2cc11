from pathlib import Path

import pytest
import torch
from PIL import Image

from conftest import DEVICE, PHOTO, REPO, STYLE, tiny
from nst_core import NSTError, StyleTransfer, load_source, preset, save_image, score
from nst_core.core.color import match_color, rgb_to_yiq
from nst_core.core.reporter import QUIET
from nst_core.files.image_files import fit_long_side
from nst_core.files.tensors import pil_to_tensor


def _content_targets(transfer, photo):
    s = transfer.settings
    image = pil_to_tensor(photo.image.resize(fit_long_side(photo.image.size, s.size), Image.LANCZOS))
    features = transfer.extractor(image.to(transfer.device))
    return image, {layer: features[layer] for layer in s.content_layers}


def test_loss_decreases_and_style_score_drops_far_below_the_photos(tmp_path):
    transfer = StyleTransfer(tiny(size=64, iterations=30))
    photo = load_source(str(PHOTO))
    targets = transfer.make_targets([STYLE])
    result = transfer.stylize(photo, targets, reporter=QUIET)
    assert result.shape == (1, 3, 48, 64)
    image, content_targets = _content_targets(transfer, photo)
    with torch.no_grad():
        before = transfer.loss(image.to(transfer.device), content_targets, targets.grams[64])
        after = transfer.loss(result.to(transfer.device), content_targets, targets.grams[64])
    assert after < 0.5 * before
    out = tmp_path / "out.png"
    save_image(result, str(out))
    photo_png = tmp_path / "photo.png"
    save_image(image, str(photo_png))
    stylized, original = score(str(out), str(PHOTO), str(STYLE)), score(str(photo_png), str(PHOTO), str(STYLE))
    assert stylized["style"] < 0.5 * original["style"]
    assert original["content"] < 0.05  # the photo is (almost) its own content


def test_score_is_one_json_friendly_pair_of_floats():
    result = score(str(PHOTO), str(PHOTO), str(STYLE))
    assert set(result) == {"style", "content"}
    assert result["content"] == pytest.approx(0, abs=1e-6) and result["style"] > 0


@pytest.mark.parametrize("init", ["content", "noise"])
def test_same_seed_gives_same_bytes_on_cpu(init):
    photo = load_source(str(PHOTO))

    def run(seed):
        transfer = StyleTransfer(tiny(init=init, seed=seed, size=32, iterations=5))
        return transfer.stylize(photo, transfer.make_targets([STYLE]), reporter=QUIET)

    first, second = run(3), run(3)
    assert torch.equal(first, second)
    if init == "noise":
        assert not torch.equal(first, run(4))


def test_coarse_to_fine_runs_every_scale():
    transfer = StyleTransfer(tiny(size=64, min_size=32, iterations=3, coarse_iterations=2))
    assert transfer.settings.scales() == [32, 45, 64]
    result = transfer.stylize(load_source(str(PHOTO)), transfer.make_targets([STYLE]), reporter=QUIET)
    assert result.shape == (1, 3, 48, 64)


def test_bf16_reaches_what_fp32_reaches(tmp_path):
    # Pixels are no measure: the optimisation is chaotic, and bf16 rounds differently where the CPU
    # emulates it. Scored in fp32 after enough steps, both reach the same style and content.
    scores = {}
    for precision in ("fp32", "bf16"):
        transfer = StyleTransfer(tiny(precision=precision, size=32, iterations=20))
        result = transfer.stylize(load_source(str(PHOTO)), transfer.make_targets([STYLE]), reporter=QUIET)
        assert torch.isfinite(result).all()
        save_image(result, out := tmp_path / f"{precision}.png")
        scores[precision] = score(str(out), str(PHOTO), str(STYLE))
    for term in ("style", "content"):
        assert scores["bf16"][term] == pytest.approx(scores["fp32"][term], rel=0.15), scores


def test_adam_and_paper_preset_run():
    photo = load_source(str(PHOTO))
    adam = StyleTransfer(tiny(optimizer="adam", size=32, iterations=5))
    assert adam.stylize(photo, adam.make_targets([STYLE]), reporter=QUIET).shape == (1, 3, 24, 32)
    paper = StyleTransfer(preset("paper", size=32, iterations=5, device=DEVICE))
    assert paper.settings.pooling == "avg" and paper.settings.init == "noise"
    assert paper.stylize(photo, paper.make_targets([STYLE]), reporter=QUIET).shape == (1, 3, 24, 32)


def test_init_from_a_file(tmp_path):
    init = tmp_path / "init.png"
    save_image(torch.zeros(1, 3, 10, 10), str(init))
    transfer = StyleTransfer(tiny(init=str(init), size=32, iterations=0))
    result = transfer.stylize(load_source(str(PHOTO)), transfer.make_targets([STYLE]), reporter=QUIET)
    assert result.shape == (1, 3, 24, 32) and result.max() == 0  # zero iterations: the init itself


def test_luminance_preservation_keeps_the_photos_chroma():
    photo = load_source(str(PHOTO))
    transfer = StyleTransfer(tiny(preserve_color="luminance", size=32, iterations=10))
    result = transfer.stylize(photo, transfer.make_targets([STYLE]), reporter=QUIET)
    original = pil_to_tensor(photo.image.resize((32, 24), Image.LANCZOS))
    chroma = rgb_to_yiq(result)[:, 1:] - rgb_to_yiq(original)[:, 1:]
    assert chroma.abs().mean() < 0.001  # only clamping to [0, 1] may move it
    plain = StyleTransfer(tiny(size=32, iterations=10))
    unpreserved = plain.stylize(photo, plain.make_targets([STYLE]), reporter=QUIET)
    assert (rgb_to_yiq(unpreserved)[:, 1:] - rgb_to_yiq(original)[:, 1:]).abs().mean() > 0.01


def test_histogram_matching_gives_the_photos_colour_statistics():
    style = pil_to_tensor(Image.open(STYLE).convert("RGB"))
    photo = pil_to_tensor(Image.open(PHOTO).convert("RGB"))
    matched = match_color(style, photo)

    def stats(image):
        pixels = image[0].reshape(3, -1).double()
        return pixels.mean(1), torch.cov(pixels)

    mean_m, cov_m = stats(matched)
    mean_p, cov_p = stats(photo)
    torch.testing.assert_close(mean_m, mean_p, atol=0.02, rtol=0)
    torch.testing.assert_close(cov_m, cov_p, atol=0.01, rtol=0)


def test_histogram_preservation_targets_depend_on_the_photo(tmp_path):
    transfer = StyleTransfer(tiny(preserve_color="histogram", size=32, iterations=2))
    photo, other = load_source(str(PHOTO)), load_source(str(STYLE))
    path = tmp_path / "t.pt"
    transfer.make_targets([STYLE], photo=photo).save(str(path))
    assert transfer.stylize(photo, transfer.load_targets(str(path), photo), reporter=QUIET).shape[-1] == 32
    with pytest.raises(NSTError, match="made for another colour reference photo"):
        transfer.load_targets(str(path), other)
    with pytest.raises(NSTError, match="histogram colour preservation needs the photo"):
        transfer.make_targets([STYLE])


def test_divergence_is_reported_not_written():
    # Adam's first step at 1e30 saturates every pixel; the content weight puts that image's loss
    # far (180x, not 10x) above the photo's, whatever the device's rounding.
    transfer = StyleTransfer(tiny(optimizer="adam", learning_rate=1e30, size=32, iterations=3, content_weight=1000.0))
    with pytest.raises(NSTError, match="diverged|non-finite"):
        transfer.stylize(load_source(str(PHOTO)), transfer.make_targets([STYLE]), reporter=QUIET)


def test_lbfgs_with_an_absurd_learning_rate_is_held_by_its_trust_radius():
    # torch's L-BFGS took a step of 1e30 and lost the image; ours steps no further than steps
    # that kept lowering the loss, on the default coarse-to-fine schedule.
    photo = load_source(str(PHOTO))
    results = []
    for rate in (1.0, 1e30):
        transfer = StyleTransfer(tiny(learning_rate=rate, size=64, min_size=32, precision="fp32"))
        targets = transfer.make_targets([STYLE])
        image = transfer.stylize(photo, targets, reporter=QUIET)
        content, features = _content_targets(transfer, photo)
        results.append(
            [float(transfer.loss(x.to(transfer.device), features, targets.grams[64])) for x in (content, image)]
        )
    (start, usual), (_, absurd) = results
    assert torch.isfinite(torch.tensor(absurd)) and absurd < 0.8 * start and absurd < 2 * usual, results


def test_schedule_of_scales():
    assert preset("default", size=512).scales() == [128, 181, 256, 362, 512]
    assert preset("default", size=384).scales() == [128, 181, 256, 384]
    assert preset("default", size=100).scales() == [100]
    assert preset("paper", size=512).scales() == [512]


def test_coarse_steps_fall_with_the_scale():
    # coarse_iterations at the smallest scale; a larger coarse one gets them times 128 / its side
    # (at least one), the final scale its iterations.
    assert preset("default", size=512).schedule() == [(128, 20), (181, 14), (256, 10), (362, 7), (512, 200)]
    assert preset("default", size=2048, coarse_iterations=2).schedule()[-2:] == [(1448, 1), (2048, 200)]
    assert {steps for _, steps in preset("default", size=512, coarse_iterations=0).schedule()[:-1]} == {0}
    assert preset("default", size=100).schedule() == [(100, 200)]


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(pooling="median"), "pooling 'median' is not one of max, avg"),
        (dict(size=0), "size must be at least 16, not 0"),
        (dict(min_size=0), "min_size must be at least 16, not 0"),
        (dict(learning_rate=-1.0), "learning_rate must be greater than 0, not -1.0"),
        (dict(style_layers=("relu1_1",), style_layer_weights=(1.0, 2.0)), "2 style layer weights for 1 style layers"),
        (dict(content_layers=("conv9_9",)), "unknown VGG-19 layer 'conv9_9'"),
        (dict(device="tpu"), "device 'tpu' is not valid"),
        (dict(device="cuda:3"), "CUDA"),
    ],
)
def test_bad_settings_are_clear_errors(overrides, message):
    with pytest.raises(NSTError, match=message):
        StyleTransfer(tiny(**overrides)) if "device" in overrides else preset("default", **overrides)


def test_auto_precision_is_bf16_only_where_the_cpu_has_it():
    from nst_core.core.device import resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    # native bf16: the CPU's AVX-512 BF16 or AMX instructions, as the kernel lists them
    flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")).split()
    expected = "bf16" if {"avx512_bf16", "amx_bf16"} & set(flags) else "fp32"
    assert StyleTransfer(tiny(precision="auto")).settings.precision == expected


def test_a_long_optimisation_says_how_far_it_is_now_and_then():
    """Where no bar shows (a log, a console of many jobs), a line about once a minute: the share
    of the work done, weighing each step by its scale's pixels, and the time left at that pace."""
    from nst_core.core.transfer import _Heartbeat

    class Bar:
        def update(self, steps):
            pass

    told = []
    schedule = [(128, 10), (256, 10)]  # the 256 px scale is 4/5 of the work
    beat = _Heartbeat(Bar(), schedule, told.append, every=0.0)
    for scale, steps in schedule:
        beat.scale = scale
        for _ in range(steps):
            beat.update(1)
    assert len(told) == 20
    assert told[9].startswith("20% done at 128 px, about ") and told[-1].startswith("100% done at 256 px")
    quiet = _Heartbeat(Bar(), schedule, told.append)  # the default: once a minute
    quiet.update(1)
    assert len(told) == 20


def test_the_edges_of_a_result_are_like_its_middle():
    """Without a margin the network's padding makes the outermost pixels differ from their
    neighbours (The Scream's results had a light first column: 72 against 52 at 256 px); the
    reflected margin that is optimised and cropped leaves the edges as the photo's own."""
    photo = load_source(str(REPO / "demo" / "photos" / "tubingen.jpg"))

    def edge_steps(image):  # |first - second| column and row, each side, in 0-255 levels
        grey = image[0].mean(0) * 255
        steps = [grey[:, 0] - grey[:, 1], grey[:, -1] - grey[:, -2], grey[0] - grey[1], grey[-1] - grey[-2]]
        return [abs(float(step.mean())) for step in steps]

    assert max(edge_steps(photo.tensor(128))) < 4
    steps = {}
    for margin in (0.0, preset("default").margin):
        settings = preset(
            "default", size=128, iterations=40, min_size=None, device=DEVICE, precision="fp32", margin=margin
        )
        transfer = StyleTransfer(settings)
        result = transfer.stylize(photo, transfer.make_targets([str(REPO / "demo" / "styles" / "the_scream.jpg")]))
        steps[margin] = edge_steps(result)
    assert max(steps[0.0]) > 10, steps  # the artefact, without the margin
    assert max(steps[preset("default").margin]) < 8, steps
