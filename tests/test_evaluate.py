"""pyext.evaluation.predictor and the evaluate stage: clip selection (all, the paper's every 10th video, a cap);
the baselines on a known translation; the outputs' schema; whole-frame PSNR and SSIM recomputed
with scikit-image from test.h5 and predictions.h5; clips without motion left out and counted."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from pyext.files import DataFiles, EvaluationFiles
from pyext.config import load_params
from pyext.data.store import ClipWriter
from pyext.evaluation.predictor import METHODS, evaluate, evaluate_clip, read_predictions, select_clips, summarise
from pyext.evaluation.metrics import SCORES, luminance
from pyext.models import MultiScaleGenerator, generator_file
from cases import TEST_PARAMS

REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    import cv2
    coarse = np.random.default_rng(seed).uniform(0, 255, (h // 8 + 2, w // 8 + 2, 3))
    return cv2.resize(coarse, (w + 16, h + 16), interpolation=cv2.INTER_CUBIC)[8:8 + h, 8:8 + w].clip(0, 255).astype(
        np.uint8)


def _translating(frames: int, seed: int, dx: int = 2, h: int = 64, w: int = 80) -> np.ndarray:
    """A textured square moving right by ``dx`` pixels a frame over a still textured background."""
    background, square = _texture(h, w, seed), _texture(24, 24, seed + 100)
    clip = np.repeat(background[None], frames, axis=0)
    for t in range(frames):
        clip[t, 20:44, 10 + dx * t:34 + dx * t] = square
    return clip


def _generator(tmp_path: Path) -> tuple[MultiScaleGenerator, Path]:
    torch.manual_seed(0)
    g = MultiScaleGenerator(4, 1, scales=3, width=0.05).eval()  # frames cropped to multiples of 4
    path = tmp_path / "generator.pt"
    torch.save(generator_file(g), path)
    return g, path


def test_select_clips():
    video = np.repeat(np.arange(25), 2)  # 25 test videos, 2 clips each
    assert list(select_clips(video, "all", 0)) == list(range(50))
    assert list(select_clips(video, "all", 3)) == [0, 1, 2]
    assert list(select_clips(video, "paper", 0)) == [0, 1, 20, 21, 40, 41]  # videos 0, 10, 20
    assert list(select_clips(video[::-1].copy(), "paper", 0)) == [8, 9, 28, 29, 48, 49]  # by video, not row


def test_the_authors_averages_leave_out_clips_at_50_db_and_count_the_rest():
    def scores(authors_psnr, psnr):
        return [{**dict.fromkeys(SCORES, 1.0), "psnr": psnr, "authors_psnr": authors_psnr, "authors_ssim": 0.5}]

    results = [{m: scores(a, p) for m in METHODS} for a, p in ((30.0, 20.0), (49.9, float("nan")), (50.0, 35.0))]
    step = summarise(results, 1)["model"]["step1"]
    assert step["authors_clips"] == 2 and step["authors_psnr"] == pytest.approx((30.0 + 49.9) / 2)
    assert step["psnr"] == pytest.approx((20.0 + 35.0) / 2)  # the moving-region mean keeps the 50 dB clip


def test_pooled_psnr_averages_the_squared_errors_not_the_decibels():
    """An exact clip (100 dB, the cap) and one of MSE 100: the mean PSNR is (100 + 28.13) / 2, the pooled
    one that of an MSE of 50, 31.14 dB; a clip without motion (NaN) is left out of both."""
    def scores(mse, psnr):
        return [{**dict.fromkeys(SCORES, 1.0), "psnr": psnr, "mse": mse}]

    results = [{m: scores(e, p) for m in METHODS} for e, p in ((0.0, 100.0), (100.0, 28.1308),
                                                                 (float("nan"), float("nan")))]
    step = summarise(results, 1)["model"]["step1"]
    assert step["psnr"] == pytest.approx(64.0654) and step["psnr_pooled"] == pytest.approx(31.1411, abs=1e-4)


def test_scores_against_recorded_futures_tell_the_blurred_mean_from_a_sharp_future():
    """A bright square on a textured background that moves 12 px left or right: a copy of the future
    that happened commits to it and is as sharp (ratio 1); the futures' mean does not commit and has
    about half the gradient energy on the union of the two branches' moving regions."""
    from pyext.evaluation.predictor import FUTURES_MEAN, score_against_futures, union_masks

    background = _texture(48, 64, 5) // 4 + 40
    def frame(x):
        out = background.copy()
        out[18:30, x:x + 12] = 230
        return out

    inputs = np.stack([frame(20 + 0 * t) for t in range(4)])
    futures = np.stack([frame(8)[None], frame(32)[None]])  # (K, 1, H, W, 3): apart, so no edge is shared
    scored = score_against_futures({"copy": futures[0], "other": futures[1]}, futures, futures[0],
                                   union_masks(inputs, futures, threshold=1.0), n=1)
    copy, other, mean = scored["copy"][0], scored["other"][0], scored[FUTURES_MEAN][0]
    assert copy["commits"] == 1.0 and copy["gradient_ratio"] == 1.0 and copy["psnr"] == 100.0
    # As sharp as the truth, up to the background each square hides on the union of their regions.
    assert other["commits"] == 1.0 and other["gradient_ratio"] == pytest.approx(1.0, abs=0.1)
    assert mean["commits"] == 0.0 and 0.4 < mean["gradient_ratio"] < 0.65 and mean["laplacian_ratio"] < 0.65
    # The blurred mean beats the sharp wrong guess by PSNR: the paper's measure prefers it.
    assert mean["psnr"] > other["psnr"] + 3


def _futures_store(path: Path) -> list[np.ndarray]:
    """A test store of two translating clips, each with two futures recorded: its own last two
    frames, and those frames shifted 4 px down; returns the clips."""
    clips = [np.ascontiguousarray(_translating(6, seed=s, h=64, w=80)) for s in (2, 3)]
    rows = {"motion": np.zeros(1, np.float32), "start": np.zeros(1, np.int32), "yx": np.zeros((1, 2), np.int16),
            "label": np.zeros(1, np.int16)}
    with ClipWriter(path, (6, None, None, 3), ["v0.avi", "v1.avi"], {"params": {}}) as w:
        for i, clip in enumerate(clips):
            future = np.stack([clip[4:], np.roll(clip[4:], 4, axis=1)])
            w.append(clip[None], future[None], video=np.array([i], np.int32), **rows)
    return clips


def test_evaluate_scores_every_clip_against_its_recorded_futures(tmp_path):
    g, _ = _generator(tmp_path)
    _futures_store(tmp_path / "test.h5")
    metrics = evaluate(load_params(TEST_PARAMS), g, tmp_path / "test.h5", EvaluationFiles(tmp_path / "eval"),
                       torch.device("cpu"), progress=False)
    recorded = metrics["futures"]
    assert recorded["branches"] == 2 and set(recorded) == {"branches", "step1", "step2"}
    for step in ("step1", "step2"):
        assert set(recorded[step]) == {*METHODS, "mean_of_futures"}
        for scores in recorded[step].values():
            assert set(scores) == {"psnr", "psnr_pooled", "gradient_ratio", "gradient_log_ratio", "laplacian_ratio",
                                   "mse", "commit_share"}
        assert recorded[step]["mean_of_futures"]["commit_share"] == 0.0  # the blurred reference never commits


def test_samples_scored_best_of_n_mean_of_n_and_coverage():
    """Samples that are the two futures themselves: the best of them is the truth (the PSNR cap), the
    mean is that and the wrong future's averaged, both futures are reached; two copies of the wrong
    future reach one of two and score its PSNR."""
    from pyext.evaluation.metrics import psnr
    from pyext.evaluation.predictor import score_samples

    background = _texture(48, 64, 5) // 4 + 40
    def frame(x):
        out = background.copy()
        out[18:30, x:x + 12] = 230
        return out

    futures = np.stack([frame(8)[None], frame(32)[None]])  # (K, 1, H, W, 3)
    truth, masks = futures[0], np.ones((1, 48, 64), bool)
    union = [np.ones((48, 64), bool)]
    (both,) = score_samples(futures, truth, masks, 1, futures, union)
    wrong = psnr(futures[1, 0], truth[0], masks[0])
    assert both["best_psnr"] == 100.0 and both["mean_psnr"] == pytest.approx((100.0 + wrong) / 2)
    assert both["coverage"] == 1.0 and both["diversity"] > 20
    (one,) = score_samples(np.stack([futures[1], futures[1]]), truth, masks, 1, futures, union)
    assert one["coverage"] == 0.5 and one["best_psnr"] == pytest.approx(wrong) and one["diversity"] == 0.0


def test_a_generator_with_noise_is_evaluated_on_its_samples(tmp_path):
    torch.manual_seed(0)
    g = MultiScaleGenerator(4, 1, scales=2, width=0.05, noise=3).eval()
    clips = _futures_store(tmp_path / "test.h5")
    p = load_params(TEST_PARAMS)
    p = replace(p, evaluate=replace(p.evaluate, samples=3, pictures=0))
    metrics = evaluate(p, g, tmp_path / "test.h5", EvaluationFiles(tmp_path / "eval"), torch.device("cpu"),
                       progress=False)
    sampled = metrics["samples"]
    assert sampled["samples"] == 3 and set(sampled) == {"samples", "step1", "step2"}
    for step in ("step1", "step2"):
        scores = sampled[step]
        assert set(scores) == {"best_psnr", "mean_psnr", "diversity", "coverage", "best_psnr_union"}
        assert scores["best_psnr"] >= scores["mean_psnr"] and scores["diversity"] > 0  # the latents matter
        assert 0.5 <= scores["coverage"] <= 1.0
    # The model's row is its first sample's: the same as predicting with that latent alone.
    from pyext.evaluation.predictor import SAMPLE_SEED, evaluate_clip
    from pyext.models import draw_latents
    first = draw_latents((SAMPLE_SEED, 0), 3, 3)[:1]
    alone = evaluate_clip(g, clips[0], 2, p.evaluate.flow_threshold, torch.device("cpu"), latents=first)
    with h5py.File(tmp_path / "eval" / "predictions.h5") as f:
        stored, _, _ = read_predictions(f)
        np.testing.assert_array_equal(stored[0], alone.predictions)


def test_baselines_on_a_known_translation():
    g = MultiScaleGenerator(4, 1, scales=2, width=0.05).eval()
    clip = _translating(6, seed=1)
    result = evaluate_clip(g, clip, steps=2, threshold=1.0, device=torch.device("cpu"))
    assert result.predictions.shape == (2, 64, 80, 3) and result.masks.shape == (2, 64, 80)
    assert result.masks[0][24:40, 24:40].all() and not result.masks[0][:, 60:].any()
    flow, last = result.scores["optical_flow"], result.scores["last_frame"]
    for step in range(2):
        assert flow[step]["psnr"] > last[step]["psnr"] + 2  # extrapolating the motion wins on what moves
        assert set(flow[step]) == set(SCORES)
    np.testing.assert_array_equal(result.baselines["last_frame"][1], clip[3])  # copies the last input


def _test_store(path: Path, clips: list[np.ndarray]) -> None:
    """A test store of ``clips`` (T, H_i, W_i, 3), each at its own frame size."""
    n = len(clips)
    with ClipWriter(path, (len(clips[0]), None, None, 3), [f"v{i}.avi" for i in range(n)], {"params": {}}) as w:
        for i, clip in enumerate(clips):
            w.append(clip[None], motion=np.zeros(1, np.float32), video=np.array([i], np.int32),
                     start=np.zeros(1, np.int32), yx=np.zeros((1, 2), np.int16), label=np.zeros(1, np.int16))


def test_evaluate_writes_the_schema_and_recomputes_with_skimage(tmp_path):
    g, _ = _generator(tmp_path)
    # Clips of two frame sizes, each evaluated at its own; odd sizes are cropped to multiples of 8.
    still = np.repeat(_texture(50, 43, 9)[None], 6, axis=0)  # no motion at all
    clips = [np.ascontiguousarray(_translating(6, seed=s, h=66, w=81)) for s in (2, 3)] + [still]
    _test_store(tmp_path / "test.h5", clips)
    p = load_params(TEST_PARAMS)
    p = replace(p, evaluate=replace(p.evaluate, pictures=2))
    metrics = evaluate(p, g, tmp_path / "test.h5", EvaluationFiles(tmp_path / "eval"), torch.device("cpu"), progress=False)

    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved == metrics and saved["clips"] == 3 and saved["clips_without_motion"] == 1
    assert "futures" not in saved  # a store that records no futures
    for method in METHODS:
        assert set(saved[method]) == {"step1", "step2"}
        for step in ("step1", "step2"):
            assert set(saved[method][step]) == {*SCORES, "authors_clips", "psnr_pooled"}
            assert all(isinstance(saved[method][step][k], float) and math.isfinite(saved[method][step][k])
                       for k in SCORES)
            # The authors' script leaves out the still clip: its masked frames agree exactly (88 dB).
            assert saved[method][step]["authors_clips"] == 2

    with h5py.File(tmp_path / "eval" / "predictions.h5") as f:
        stored, index, origins = read_predictions(f)
        predictions = [stored[i] for i in range(len(stored))]
    assert [p.shape for p in predictions] == [(2, 64, 80, 3), (2, 64, 80, 3), (2, 48, 40, 3)]
    assert list(index) == [0, 1, 2] and origins.tolist() == [[1, 0], [1, 0], [1, 1]]
    truth = [clip[4:6, top:top + p.shape[1], left:left + p.shape[2]]
             for clip, (top, left), p in zip(clips, origins, predictions)]
    for s, step in enumerate(("step1", "step2")):
        psnrs = [peak_signal_noise_ratio(truth[c][s], predictions[c][s], data_range=255) for c in range(3)]
        ssims = [structural_similarity(luminance(predictions[c][s]), luminance(truth[c][s]), gaussian_weights=True,
                                       sigma=1.5, use_sample_covariance=False, data_range=255) for c in range(3)]
        assert saved["model"][step]["psnr_full"] == pytest.approx(np.mean(psnrs), abs=1e-3)
        assert saved["model"][step]["ssim_full"] == pytest.approx(np.mean(ssims), abs=1e-3)

    pictures = sorted(p.name for p in (tmp_path / "eval" / "pictures").iterdir())
    assert pictures == ["clip00000.png", "clip00000_animated.png", "clip00002.png", "clip00002_animated.png"]  # spread out
    from PIL import Image
    from pyext.pictures import MAX_WIDTH
    # The clip's picture: truth, model, last frame, optical flow in rows (the 64x80 frames enlarged
    # twice), a column per predicted frame and a zoomed crop of each (tests/test_pictures.py: layout).
    picture = np.asarray(Image.open(tmp_path / "eval" / "pictures" / "clip00000.png"))
    assert picture.shape[0] > 4 * 128 and 2 * 160 + 2 * 126 < picture.shape[1] <= MAX_WIDTH
    animation = Image.open(tmp_path / "eval" / "pictures" / "clip00000_animated.png")
    assert animation.is_animated and animation.n_frames == 6  # 4 inputs, 2 predicted frames
    assert 4 * 160 < animation.size[0] <= MAX_WIDTH and animation.size[1] > 128  # 4 panels, labels above
    # Each at its own size: the still clip's 48x40 frames enlarged 3 times.
    assert Image.open(tmp_path / "eval" / "pictures" / "clip00002_animated.png").size[1] > 3 * 48
    # Series tables (pyext.tables): a row per (x, method).
    steps = (tmp_path / "eval" / "plots" / "steps.csv").read_text().splitlines()
    assert steps[0] == "step,series,value" and len(steps) == 1 + 2 * 3
    assert steps[1] == f"1,model,{saved['model']['step1']['psnr']}"
    assert steps[6] == f"2,optical_flow,{saved['optical_flow']['step2']['psnr']}"
    per_clip = (tmp_path / "eval" / "plots" / "clips.csv").read_text().splitlines()
    assert per_clip[0] == "sample,series,value,clip,video" and len(per_clip) == 1 + 3 * 3
    assert per_clip[3].startswith("2,model,") and per_clip[3].endswith(",2,v2.avi")


def test_the_authors_measure_is_what_the_stage_reports_when_chosen(tmp_path):
    from pyext.evaluation import evaluate_model
    g, path = _generator(tmp_path)
    _test_store(tmp_path / "test.h5", [np.ascontiguousarray(_translating(6, seed=s)) for s in (2, 3)])
    p = load_params(TEST_PARAMS)
    p = replace(p, evaluate=replace(p.evaluate, pictures=0, measure="authors"))
    lines = evaluate_model(p, g, path, DataFiles(tmp_path), EvaluationFiles(tmp_path / "eval"), torch.device("cpu"), progress=False)
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    step1 = saved["model"]["step1"]
    assert lines[0].startswith(f"evaluate: 2 clips; PSNR by the authors' measure at step 1: model {step1['authors_psnr']},")
    steps = (tmp_path / "eval" / "plots" / "steps.csv").read_text().splitlines()
    assert steps[1] == f"1,model,{step1['authors_psnr']}"
    # A tenth or so of the pixels move: the authors' PSNR reads several dB above the moving mean.
    assert step1["authors_psnr"] > step1["psnr"] + 3 and step1["authors_clips"] == 2


def test_stage_errors_are_one_line(tmp_path):
    (tmp_path / "params.yaml").write_text((TEST_PARAMS).read_text())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "pipeline.evaluate"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["evaluate: models/generator.pt: no such file"]
