"""pyext.pictures and the pictures the stages draw: labels in margins, never over a frame; every row
holding frames; pictures that fit a 1400 px page; lossless animations and GIFs without dithering;
the training grids (predictions, the generator's scales); the offline page of ``dvc plots show``."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pyext.models import MultiScaleGenerator
from pyext.pictures import (
    GAP,
    MARK,
    MAX_WIDTH,
    Box,
    comparison,
    comparison_frames,
    labelled_grid,
    moving_crop,
    save_animation,
)
from pyext.plots_page import page
from pyext.training.validation import prediction_pictures

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _frames(count: int, h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, h, w, 3), dtype=np.uint8)


def _check_layout(picture: np.ndarray, layout, cells: list[list[np.ndarray | None]] | None = None) -> None:
    """Every text lies inside the picture and off every frame, and holds ink; every row holds a
    frame; each frame (where ``cells`` are given) is in the picture exactly as given."""
    h, w = picture.shape[:2]
    boxes = [box for row in layout.cells for box in row if box is not None]
    assert all(any(box is not None for box in row) for row in layout.cells)  # no empty row
    assert layout.texts
    for text in layout.texts:
        assert 0 <= text.top and text.top + text.height <= h and 0 <= text.left and text.left + text.width <= w
        assert not any(text.overlaps(box) for box in boxes), text
        assert (picture[text.top:text.top + text.height, text.left:text.left + text.width] < 128).any()
    for r, row in enumerate(layout.cells):
        for c, box in enumerate(row):
            if box is not None and cells is not None:
                np.testing.assert_array_equal(picture[box.top:box.top + box.height, box.left:box.left + box.width],
                                              cells[r][c])


def test_labelled_grid_keeps_labels_and_captions_in_margins():
    cells = [[_frames(1, 20, 30, 0)[0], None, _frames(1, 20, 20, 1)[0]],
             [_frames(1, 10, 30, 2)[0], _frames(1, 16, 8, 3)[0], None]]
    picture, layout = labelled_grid(cells, ["first", "a second\nrow"], ["wide column label", "b", "c"],
                                    [["x", "", ""], ["", "caption", ""]], title="a title")
    _check_layout(picture, layout, cells)
    first, second = layout.cells
    # Row labels left of every frame, column labels above the first row, captions under their frame.
    label_left = min(box.left for row in layout.cells for box in row if box is not None)
    assert any(t.left + t.width <= label_left and t.top >= first[0].top for t in layout.texts)
    assert any(t.top + t.height <= first[0].top for t in layout.texts)
    assert any(t.top >= second[1].top + second[1].height for t in layout.texts)
    assert second[2] is None and first[1] is None
    # A column is as wide as its label where that is wider than its frames.
    assert picture.shape[1] >= label_left + 30 + GAP + 8 + GAP + 20


def _clip(f: int, h: int, w: int):
    truth = _frames(f, h, w, 5)
    masks = np.zeros((f, h, w), bool)
    masks[:, h // 2:h // 2 + 12, w // 3:w // 3 + 10] = True
    methods = {"model": _frames(f, h, w, 6), "last frame\n(= input t)": _frames(f, h, w, 7),
               "optical flow": _frames(f, h, w, 8)}
    captions = {name: [f"{name[:4]} {j} dB" for j in range(f)] for name in methods}
    return truth, methods, masks, captions


@pytest.mark.parametrize("f, h, w", [(2, 240, 320), (8, 240, 320), (2, 48, 64)])
def test_comparison_rows_columns_and_width(f, h, w):
    truth, methods, masks, captions = _clip(f, h, w)
    picture, layout = comparison(truth, methods, masks, captions)
    _check_layout(picture, layout)
    assert picture.shape[1] <= MAX_WIDTH  # a 1400 px page shows it without scrolling
    assert len(layout.cells) == 4 and all(len(row) == f + min(f, 2) for row in layout.cells)  # frames, then crops
    assert all(box is not None for row in layout.cells for box in row)
    full = layout.cells[1][0]
    scale = full.width / w
    assert scale == (3 if h == 48 else 1) or (f == 8 and scale < 1)  # small frames enlarged, wide rows shrunk
    if scale == 1:  # the model's frame as it is, its crop enlarged 3 times from the moving region
        np.testing.assert_array_equal(picture[full.top:full.top + h, full.left:full.left + w], methods["model"][0])
        crop, side = moving_crop(masks[0], min(h, w) // 3), min(h, w) // 3
        zoomed = layout.cells[1][f]
        assert zoomed.width == zoomed.height == 3 * side
        np.testing.assert_array_equal(picture[zoomed.top:zoomed.top + 3:3, zoomed.left:zoomed.left + 3:3][0, 0],
                                      methods["model"][0, crop.top, crop.left])
        # The truth's frames carry the moving region's outline.
        truth_box = layout.cells[0][0]
        outline = picture[truth_box.top + h // 2, truth_box.left + w // 3]
        assert tuple(outline) == MARK
    # Each method's captions stand under its frames.
    for r in (1, 2, 3):
        box = layout.cells[r][0]
        assert any(t.top >= box.top + box.height and t.left < box.left + box.width for t in layout.texts)


def test_moving_crop_centres_on_motion_inside_the_frame():
    mask = np.zeros((40, 60), bool)
    mask[30:40, 50:60] = True
    assert moving_crop(mask, 20) == Box(20, 40, 20, 20)  # pushed back inside
    assert moving_crop(np.zeros((40, 60), bool), 20) == Box(10, 20, 20, 20)  # no motion: the centre


def test_animation_frames_are_labelled_and_lossless(tmp_path):
    truth, methods, _, _ = _clip(2, 60, 80)
    pictures = comparison_frames(_frames(4, 60, 80, 9), truth, {k.split("\n")[0]: v for k, v in methods.items()})
    assert len(pictures) == 6 and len({p.shape for p in pictures}) == 1 and pictures[0].shape[1] <= MAX_WIDTH
    assert not np.array_equal(pictures[3], pictures[4])  # the title and the frames change
    save_animation(tmp_path / "a.png", pictures, [300] * 4 + [900] * 2)
    with Image.open(tmp_path / "a.png") as apng:
        assert apng.is_animated and apng.n_frames == 6
        for k, expected in enumerate(pictures):
            apng.seek(k)
            np.testing.assert_array_equal(np.asarray(apng.convert("RGB")), expected)


def test_gif_gives_each_frame_its_own_palette_undithered(tmp_path):
    # Two frames of 200 greys each and 400 colours in all: one shared palette (or dithering) cannot
    # give both back exactly.
    ramp = np.repeat(np.arange(200, dtype=np.uint8)[None, :, None], 10, axis=0).repeat(3, axis=2)
    tinted = ramp.copy()
    tinted[..., 0] = 255 - tinted[..., 0]
    save_animation(tmp_path / "a.gif", [ramp, tinted])
    with Image.open(tmp_path / "a.gif") as gif:
        for k, expected in enumerate([ramp, tinted]):
            gif.seek(k)
            np.testing.assert_array_equal(np.asarray(gif.convert("RGB")), expected)
    with pytest.raises(ValueError, match=r"a\.webp: an animation is written as \.png or \.gif"):
        save_animation(tmp_path / "a.webp", [ramp])


def test_training_pictures_label_their_columns_and_show_every_scale():
    torch.manual_seed(0)
    G = MultiScaleGenerator(4, 1, 3, 0.1)
    clips = torch.rand(6, 5, 3, 32, 32) * 2 - 1
    pictures = prediction_pictures(G, clips, torch.zeros(6, dtype=torch.long), torch.device("cpu"))
    cell = 4 * 32 + GAP
    predictions, scales = pictures["predictions"], pictures["scales"]
    band = predictions.shape[0] - (6 * cell - GAP)
    assert predictions.shape[1] == 6 * cell - GAP and 10 < band < 40  # 4 inputs, truth, prediction; a label row
    assert (predictions[:band] < 128).any()  # labels drawn
    assert scales.shape == (band + 4 * cell - GAP, 5 * cell - GAP, 3)  # last input, 3 scales, truth; 4 clips
    with torch.no_grad():
        coarsest = G.forward_scales(clips[:1, :4])[0]  # (1, 1, 3, 8, 8)
    # The coarsest scale's 8x8 output fills its 128-pixel cell in 16-pixel squares.
    block = scales[band:band + 128, cell:cell + 128]
    np.testing.assert_array_equal(block, block[::16, ::16].repeat(16, axis=0).repeat(16, axis=1))
    expected = ((coarsest[0, 0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    np.testing.assert_allclose(block[::16, ::16].astype(int), expected.astype(int), atol=1)


def test_offline_page_carries_its_scripts_and_dvc_fills_it(tmp_path):
    from dvc_render import VegaRenderer, render_html
    template = page({"vega": "var vega = '</script>';", "vega-lite": "var vegaLite = {};", "vega-embed": "x"})
    assert "<\\/script>" in template and "{scripts}" not in template and "http" not in template
    (tmp_path / "page.html").write_text(template)
    renderer = VegaRenderer([{"step": 1, "value": 2.0}], "loss", x="step", y="value")
    out = render_html([renderer], tmp_path / "index.html", tmp_path / "page.html")
    html = out.read_text() if hasattr(out, "read_text") else (tmp_path / "index.html").read_text()
    assert "vegaEmbed" in html and "var vegaLite" in html
    assert "<script src" not in html and "cdn" not in html  # nothing fetched when the page is opened
