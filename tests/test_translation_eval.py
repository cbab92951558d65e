"""A translator's evaluation (pyext.evaluation.translation) and its measures (pyext.evaluation.temporal,
pyext.evaluation.domains): the warping error and flicker against hand-computed cases, the domain
classifier on domains told apart by brightness and on one domain twice, the cycle PSNR of an
identity and of a known corruption, FID and KID against pyext.evaluation.fid's functions, every
measure gathered from a two-domain store by a fixed colour map, and the registered evaluation of the
translation families end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from cases import TEST_PARAMS
from pyext.config import load_params, parse_params
from pyext.data.dataset import to_model, to_uint8
from pyext.data.manifest import Manifest, VideoEntry, write_manifest
from pyext.data.store import ClipWriter
from pyext.evaluation.domains import (b_share, cycle_psnr, cycled, direction_distances, domain_classifier,
                                      domain_patches, patch_measures, temporal_measures, train_domain_classifier,
                                      translated)
from pyext.evaluation.fid import FrameFeatures, frechet_distance, kernel_distance
from pyext.evaluation.metrics import PSNR_CAP, psnr
from pyext.evaluation.temporal import flicker, flow_mask, still_mask, temporal_scores, warping_error
from pyext.files import DataFiles, EvaluationFiles
from pyext.models import Translator

pytestmark = pytest.mark.usefixtures("one_torch_thread")

T = 6  # frames of a test clip under the tests' params (4 input frames, 2 recursive steps of 1)


class _Shift(nn.Module):
    """Adds a colour ``(3,)`` in [-1, 1] units to frames ``(N, 3, H, W)``."""

    def __init__(self, shift: torch.Tensor):
        super().__init__()
        self.shift = nn.Parameter(shift.view(1, 3, 1, 1), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.shift


class ColourMap(Translator):
    """A translator that adds a fixed colour (0..255 units) one way and another the other way: the
    identity with both 0, exact inverses with opposite ones (away from the clamp)."""

    family = "colour_map"
    size = 32

    def __init__(self, ab: float = 0.0, ba: float = 0.0):
        super().__init__()
        self.shifts = nn.ModuleDict({d: _Shift(torch.full((3,), v / 127.5)) for d, v in (("ab", ab), ("ba", ba))})

    @property
    def size_multiple(self) -> int:
        return 4

    def mapping(self, direction: str) -> nn.Module:
        return self.shifts[direction]


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth random texture, uint8 ``(h, w, 3)`` (values 0..255): Farneback's flow follows it."""
    import cv2
    coarse = np.random.default_rng(seed).uniform(0, 255, (h // 8 + 2, w // 8 + 2, 3))
    return cv2.resize(coarse, (w + 16, h + 16), interpolation=cv2.INTER_CUBIC)[8:8 + h, 8:8 + w].clip(0, 255).astype(
        np.uint8)


def _shifting(frames: int, dx: int, seed: int, h: int = 48, w: int = 64) -> np.ndarray:
    """A textured image moving ``dx`` pixels right a frame (wrapping around), uint8 ``(frames, h, w, 3)``."""
    image = _texture(h, w, seed)
    return np.stack([np.roll(image, dx * t, axis=1) for t in range(frames)])


# ------------------------------------------------------------------------------------------ temporal


def test_the_warping_error_of_an_identity_on_a_known_shift_is_zero_and_of_noise_as_computed_by_hand():
    dx, source = 3, _shifting(4, 3, seed=0)
    # The flows of a shift by dx: forward (dx, 0), backward (-dx, 0); the first dx columns of a frame
    # came from outside the previous one, so the mask leaves them out.
    forward = np.tile(np.float32([dx, 0]), (3, *source.shape[1:3], 1))
    masks = np.stack([flow_mask(f, b) for f, b in zip(forward, -forward)])
    assert not masks[:, :, :dx].any() and masks[:, :, dx:].all()
    assert warping_error(source, -forward, masks) == 0.0
    noise = np.random.default_rng(1).integers(-20, 21, source.shape)
    noisy = (source.astype(np.int64) + noise).clip(0, 255)
    # By hand: frame t+1 against frame t moved dx right, on the columns from dx on, [0, 1] scale,
    # squared differences summed over RGB, then the mean over pixels and pairs.
    by_hand = np.mean([(((noisy[t + 1][:, dx:] - noisy[t][:, :-dx]) / 255.0) ** 2).sum(-1).mean() for t in range(3)])
    assert warping_error(noisy.astype(np.uint8), -forward, masks) == pytest.approx(by_hand, rel=1e-12)
    assert by_hand > 0


def test_the_warping_error_through_the_sources_flow_tells_noise_from_an_identity():
    source = _shifting(5, 2, seed=3)
    same = temporal_scores(source, source)
    assert same["warping_error"] == same["warping_error_source"] < 1e-3  # Farneback's flow on a texture
    noisy = (source.astype(np.int64) + np.random.default_rng(0).integers(-12, 13, source.shape)).clip(0, 255)
    assert temporal_scores(source, noisy.astype(np.uint8))["warping_error"] > 10 * same["warping_error"]


def test_flicker_on_a_still_background_is_the_hand_computed_change():
    """A square moving over a flat still background; the processed frames brighten the whole frame by
    5 at each frame: on the still pixels (the background, less the square's two places) the change
    is 5 a value; the source's own change there is 0."""
    source = np.full((4, 32, 48, 3), 90, np.uint8)
    for t in range(4):
        source[t, 8:16, 4 + 10 * t:12 + 10 * t] = 220  # 8x8, 10 px a frame: its places do not overlap
    processed = (source.astype(np.int64) + 5 * np.arange(4)[:, None, None, None]).astype(np.uint8)
    still = still_mask(source)
    assert still.sum(axis=(1, 2)).tolist() == [32 * 48 - 2 * 64] * 3  # the square's old and new places move
    assert flicker(processed, still) == 5.0 and flicker(source, still) == 0.0
    scores = temporal_scores(source, processed)
    assert scores["flicker"] == 5.0 and scores["flicker_source"] == 0.0


# ------------------------------------------------------------------------------------------ patches


def _patches(n: int, level: int, seed: int) -> np.ndarray:
    """``n`` textured 32x32 patches around grey ``level``, uint8 ``(n, 32, 32, 3)``."""
    return np.stack([(_texture(32, 32, seed * 1000 + i).astype(np.int64) // 4 + level - 32).clip(0, 255)
                     for i in range(n)]).astype(np.uint8)


def test_the_domain_classifier_separates_bright_from_dark_and_not_one_domain_from_itself():
    dark, bright = _patches(200, 70, seed=1), _patches(200, 170, seed=2)
    classifier = train_domain_classifier(dark, bright, seed=0)
    test_dark, test_bright = _patches(100, 70, seed=3), _patches(100, 170, seed=4)
    accuracy = ((1 - b_share(classifier, test_dark)) + b_share(classifier, test_bright)) / 2
    assert accuracy > 0.9
    same = train_domain_classifier(dark, _patches(200, 70, seed=5), seed=0)
    assert 0.2 < b_share(same, _patches(200, 70, seed=6)) < 0.8  # chance, give or take
    again = train_domain_classifier(dark, bright, seed=0)  # seeded: the same classifier
    assert all(torch.equal(p, q) for p, q in zip(classifier.parameters(), again.parameters()))
    with pytest.raises(ValueError, match="both domains, got 0 of A"):
        train_domain_classifier(dark[:0], bright, seed=0)


def test_the_cycle_psnr_of_an_identity_is_the_cap_and_of_a_known_corruption_its_psnr():
    x = _patches(5, 120, seed=7)
    identity = ColourMap()
    assert np.array_equal(translated(identity, x, "ab"), x)
    assert cycle_psnr(x, cycled(identity, x, "ab")) == {"mean": PSNR_CAP, "pooled": PSNR_CAP, "patches": 5}
    inverse = ColourMap(40, -40)  # exact inverses where nothing is clamped
    assert cycle_psnr(x, cycled(inverse, x, "ab"))["mean"] == PSNR_CAP
    corrupting = ColourMap(30, 0)  # G brightens, F keeps: the cycle is the brightened patch
    rebuilt = cycled(corrupting, x, "ab")
    assert np.array_equal(rebuilt, to_uint8(to_model(x) + 30 / 127.5))
    measured = cycle_psnr(x, rebuilt)
    assert measured["mean"] == pytest.approx(np.mean([psnr(r, t) for r, t in zip(rebuilt, x)]), abs=1e-4)
    squared = ((rebuilt.astype(np.float64) - x) ** 2).mean()
    assert measured["pooled"] == pytest.approx(10 * np.log10(255 ** 2 / squared), abs=1e-4)
    assert cycle_psnr(x, cycled(corrupting, x, "ba"))["mean"] == measured["mean"]  # F then G: the same here


class _MeanAndSpread(nn.Module):
    """A tiny extractor: each channel's mean and standard deviation, ``(N, 3, P, P)`` -> ``(N, 6)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], dim=1)


@pytest.fixture(scope="module")
def extractor(tmp_path_factory):
    path = tmp_path_factory.mktemp("extractor") / "features.pt"
    torch.jit.script(_MeanAndSpread()).save(str(path))
    return path


def test_fid_and_kid_of_each_direction_are_fids_functions_of_the_same_features(extractor):
    params = load_params(TEST_PARAMS)
    a, b = _patches(40, 70, seed=8), _patches(30, 170, seed=9)
    moved = translated(ColourMap(100, -100), a, "ab")
    features = FrameFeatures(extractor, torch.device("cpu"))
    for name, images in (("A", a), ("B", b), ("G(A)", moved)):
        features.add_in_parts(name, images, 16)
    measured = direction_distances(features, "A", "B", "G(A)", params)
    real = features.features("B")
    size = min(params.evaluate.kid_subset_size, 30)
    for key, fake in (("translated", features.features("G(A)")), ("untranslated", features.features("A"))):
        assert measured["fid"][key] == round(frechet_distance(real, fake), 6)
        mean, std = kernel_distance(real, fake, params.evaluate.kid_subsets, size)
        assert measured["kid"][key] == {"mean": round(mean, 8), "std": round(std, 8)}
    assert measured["fid"]["translated"] < measured["fid"]["untranslated"]  # brightened A looks like B
    assert measured["feature_extractor"]["patches"] == 30 and measured["feature_extractor"]["dimension"] == 6
    few = FrameFeatures(extractor, torch.device("cpu"))
    few.add({"A": a[:12], "B": b[:12], "G(A)": moved[:12]})
    assert "fid" not in direction_distances(few, "A", "B", "G(A)", params)  # 12 <= 2 x 6: KID alone
    assert "fid_refused" in direction_distances(few, "A", "B", "G(A)", params)["feature_extractor"]


# ------------------------------------------------------------------------------- a two-domain store

VIDEOS = [("A/v0.avi", "train", 0), ("A/v1.avi", "test", 0), ("B/v0.avi", "train", 1), ("B/v1.avi", "test", 1)]
BRIGHTER = 80  # domain B is domain A's look brightened by this much


def _moving_square(seed: int, level: int, h: int = 64, w: int = 80, frames: int = T) -> np.ndarray:
    """A textured square moving 2 px right a frame over a still textured background around ``level``."""
    background = (_texture(h, w, seed).astype(np.int64) // 4 + level - 32).clip(0, 255).astype(np.uint8)
    square = (_texture(24, 24, seed + 100).astype(np.int64) // 2 + level - 64).clip(0, 255).astype(np.uint8)
    clip = np.repeat(background[None], frames, axis=0)
    for t in range(frames):
        clip[t, 20:44, 10 + 2 * t:34 + 2 * t] = square
    return clip


def _rows(n: int, video: int) -> dict[str, np.ndarray]:
    return {"motion": np.full(n, 20.0, np.float32), "start": np.zeros(n, np.int32), "yx": np.zeros((n, 2), np.int16),
            "label": np.zeros(n, np.int16), "video": np.full(n, video, np.int32)}


def two_domains(folder, params) -> DataFiles:
    """A data folder of two domains: test clips (two per domain, moving squares, B brighter by
    :data:`BRIGHTER`), validation patches of held-out videos of both, and their manifest."""
    data = DataFiles(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_manifest(data.manifest, Manifest("demo", str(folder), 1, ["c"], [
        VideoEntry(path, split, 0, "c", (0,), root=str(folder) if d else "", domain=d) for path, split, d in VIDEOS]))
    videos = [path for path, _, _ in VIDEOS]
    with ClipWriter(data.test, (T, None, None, 3), videos, {"params": {}}) as w:
        for video, (_, _, d) in enumerate(VIDEOS):
            if VIDEOS[video][1] == "test":
                for seed in (1, 2):
                    w.append(_moving_square(seed, 90 + BRIGHTER * d)[None], **_rows(1, video))
    frames = params.clip.train_frames
    with ClipWriter(data.val, (frames, 32, 32, 3), videos, {"params": {}}) as w:
        for video, (_, split, d) in enumerate(VIDEOS):
            if split == "train":
                patches = np.stack([_patches(frames, 90 + BRIGHTER * d, seed=10 * video + i) for i in range(40)])
                w.append(patches, **_rows(40, video))
    return data


def test_each_domain_gets_its_own_count_of_moving_test_patches(tmp_path):
    # Each domain is cut up to evaluate.fid_patches times from its own test clips, however few: two
    # clips give more than moving_patches' default 64 tries each allow.
    from pyext.evaluation.domains import domain_patches
    from pyext.evaluation.patches import ROUNDS

    params = translation_params(fid_patches=3 * ROUNDS, patches=8)
    data = two_domains(tmp_path / "data", params)
    a, b = domain_patches(data.test, data.manifest, params)
    assert len(a) == len(b) == 3 * ROUNDS
    assert a.mean() < b.mean()  # B's clips are the brighter ones: each domain's own


def test_every_measure_gathered_from_a_two_domain_store(tmp_path, extractor):
    """G brightens A into B's look and F darkens B back: their translated patches are judged of the
    target domain where the untranslated ones are not, every cycle is exact, FID falls; a shift of
    every pixel alike keeps the warping error of the source frames and adds no flicker."""
    params = load_params(TEST_PARAMS)
    params = parse_params({**yaml.safe_load(TEST_PARAMS.read_text()),
                           "evaluate": {**yaml.safe_load(TEST_PARAMS.read_text())["evaluate"],
                                        "features": str(extractor)}}, str(TEST_PARAMS))
    data = two_domains(tmp_path / "data", params)
    model = ColourMap(BRIGHTER, -BRIGHTER)
    patches = domain_patches(data.test, data.manifest, params)
    assert min(len(p) for p in patches) > 12 and patches[1].mean() > patches[0].mean() + BRIGHTER / 2
    classifier, classified = domain_classifier(params, data, patches)
    assert classified["accuracy"] > 0.9 and classified["held_out_patches"] == {"A": 40, "B": 40}
    measured, moved, back = patch_measures(params, model, patches, classifier, torch.device("cpu"))
    for direction in ("ab", "ba"):
        m = measured[direction]
        assert m["target_share"]["translated"] > 0.9 and m["target_share"]["untranslated"] < 0.1
        assert m["cycle_psnr"]["mean"] > 40  # exact but where the brightening clamps at 255
        assert m["fid"]["translated"] < m["fid"]["untranslated"]
        assert len(moved[direction]) == len(back[direction]) == m["patches"]
    assert (measured["ab"]["mapping"], measured["ba"]["target"]) == ("G", "A")
    summary, per_clip, shown = temporal_measures(params, model, data.test, data.manifest, progress=False)
    for direction in ("ab", "ba"):
        assert summary[direction]["clips"] == 2 and per_clip[direction]["clip"] == ([0, 1] if direction == "ab" else [2, 3])
        error = summary[direction]["warping_error"]
        assert error["translated"] == pytest.approx(error["source"], abs=2e-3)  # clamping aside, the same
        assert summary[direction]["flicker"]["translated"] == pytest.approx(summary[direction]["flicker"]["source"], abs=0.5)
        source, frames = shown[direction]
        assert source.shape == frames.shape == (T, 64, 80, 3)
    without = parse_params(yaml.safe_load(TEST_PARAMS.read_text()), str(TEST_PARAMS))  # evaluate.features: ''
    assert patch_measures(without, model, patches, None, torch.device("cpu"))[0]["ab"]["not_measured"] == {
        "distances": "evaluate.features is ''"}


# ------------------------------------------------------- the registered evaluation (with the families)

TRANSLATORS = ("cyclegan", "discogan", "dualgan")


def translation_params(family: str = "cyclegan", **evaluate):
    """The tests' params of a translation family, domain B the photos' set (``evaluate`` keys replaced)."""
    raw = yaml.safe_load(TEST_PARAMS.read_text())
    raw["model"]["family"] = family
    raw["data"]["translate"]["source"] = "photos"
    raw["evaluate"].update(evaluate)
    return parse_params(raw, str(TEST_PARAMS))


@pytest.mark.parametrize("family", TRANSLATORS)
def test_each_translation_family_is_evaluated_by_the_translation_evaluation(family):
    from pyext.evaluation import EVALUATIONS
    from pyext.evaluation.translation import evaluate_translator

    assert EVALUATIONS[family] is evaluate_translator


def test_the_registered_evaluation_of_a_cyclegan_writes_every_output(tmp_path, extractor):
    from pyext.evaluation import evaluate_model
    from pyext.models import FAMILIES

    params = translation_params("cyclegan", features=str(extractor))
    torch.manual_seed(0)
    model = FAMILIES["cyclegan"].from_params(params).eval()
    data, out = two_domains(tmp_path / "data", params), EvaluationFiles(tmp_path / "eval")
    lines = evaluate_model(params, model, tmp_path / "generator.pt", data, out, torch.device("cpu"), progress=False)
    metrics = json.loads(out.metrics.read_text())
    assert metrics["family"] == "cyclegan" and set(metrics["patches"]) == {"A", "B"}
    for direction in ("ab", "ba"):
        assert {"fid", "kid", "cycle_psnr", "target_share", "temporal"} <= set(metrics[direction])
        assert metrics[direction]["temporal"]["clips"] == 2
    for path in (out.predictions, out.steps, out.clips, out.translations, out.translated_clip):
        assert path.is_file(), path
    steps = out.steps.read_text()
    assert "fid ab" in steps and "fid ba untranslated" in steps and "warping_error ab source" in steps
    assert "flicker ba" in out.clips.read_text()
    assert len(lines) == 3 and lines[1].startswith("evaluate: A -> B (G(A)): FID ")
