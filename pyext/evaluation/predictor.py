"""Evaluation of a trained generator on the full-frame test clips (the paper's section 4).

For each clip of ``data/test.h5`` the first ``clip.input_frames`` frames are the inputs and the
following ones the targets of recursive steps 1, 2, ...; the generator predicts every step fully
convolutionally, feeding its predictions back, and so do the two baselines (copying the last
frame; extrapolating the optical flow). Every prediction is rounded to uint8 frames before it is
scored, on the moving regions of its target and on the whole frame (:func:`pyext.evaluation.metrics.frame_scores`).
With ``clip.output_frames`` n > 1, a step's numbers average its n frames.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from tqdm import tqdm

from ..config import Params
from ..data.dataset import to_model, to_uint8
from ..files import EvaluationFiles, atomic_output, printable, write_json
from ..data.store import ClipArray, ClipArrayWriter, check_clips, futures_of, open_store, store_videos
from ..data.video import centre_window
from .fid import (CONTEXT, FrameFeatures, class_accuracy, distances, inception_scores, moving_crops, networks,
                  seeded_rows, tiles)
from .metrics import (
    AUTHORS_PSNR_CUT,
    AUTHORS_SCORES,
    SCORES,
    best_of_n,
    commits,
    coverage,
    diversity,
    frame_scores,
    last_frame_baseline,
    mean_of_n,
    motion_mask,
    optical_flow_baseline,
    psnr,
    psnr_of_mse,
    sharpness_scores,
    union_motion_mask,
)
from ..models import Predictor, draw_latents
from ..pictures import comparison, comparison_frames, enlarge, labelled_grid, save_animation, save_png
from ..tables import write_series

METHODS = ("model", "last_frame", "optical_flow")
# The PSNR each evaluate.measure reports and plots, and what it is called.
HEADLINE = {"moving_mean": ("psnr", "moving-region PSNR"), "authors": ("authors_psnr", "PSNR by the authors' measure")}
_BASELINES = {"last_frame": last_frame_baseline, "optical_flow": optical_flow_baseline}
# The methods' names in the clips' pictures: copying the last frame shows the last input.
_PICTURE_NAMES = {"model": "model", "last_frame": "last frame\n(= input t)", "optical_flow": "optical flow"}
PAPER_EVERY = 10  # the paper's protocol: every 10th video of the split's test list
CLASSES_PICTURE = "classes.png"  # a class-conditioned predictor's picture of one clip under every class


def select_clips(video: np.ndarray, protocol: str, max_clips: int) -> np.ndarray:
    """Indices of the test clips to evaluate: all of them, or (``paper``) those of every 10th test
    video in list order; then at most ``max_clips`` (0: no cap).

    Args:
        video: the ``video`` field of ``test.h5`` (N,): each clip's index in the manifest.
    """
    index = np.arange(len(video))
    if protocol == "paper":
        videos = np.unique(video)  # manifest order is the test list's order
        index = index[np.isin(video, videos[::PAPER_EVERY])]
    return index[:max_clips] if max_clips else index


@dataclass
class ClipResult:
    """One clip's predictions and scores: ``scores[method][step][metric]`` (step 0-based); where
    the clip's possible futures are recorded, ``future_scores`` the same against them
    (:func:`score_against_futures`)."""

    predictions: np.ndarray  # uint8 (steps * n, H, W, 3): the model's
    baselines: dict[str, np.ndarray]
    masks: np.ndarray  # bool (steps * n, H, W)
    scores: dict[str, list[dict[str, float]]]
    future_scores: dict[str, list[dict[str, float]]] | None = None
    sample_scores: list[dict[str, float]] | None = None  # per step, of a generator with noise (score_samples)


# Against a clip's recorded futures (the stochastic set): on the union of the futures' moving regions.
FUTURE_SCORES = ("psnr", "gradient_ratio", "gradient_log_ratio", "laplacian_ratio", "mse", "commits")
# The futures' per-pixel mean, rounded: what the mean squared error's optimum predicts where the
# branches are equally likely, scored beside the methods as the blurred reference.
FUTURES_MEAN = "mean_of_futures"


def score_against_futures(outputs: dict[str, np.ndarray], futures: np.ndarray, truth: np.ndarray,
                          masks: list[np.ndarray], n: int) -> dict[str, list[dict[str, float]]]:
    """Each method's frames scored where the future branches: on the union of the K futures' moving
    regions ``masks`` (:func:`union_masks`: a blurred mean's ghost on another branch counts), its
    :data:`FUTURE_SCORES` against the future that happened (``truth``), and whether it commits to
    one future (:func:`~pyext.evaluation.metrics.commits`); per step (the mean of its ``n`` frames).
    The futures' rounded mean is scored too, as :data:`FUTURES_MEAN`.

    Args:
        outputs: method -> uint8 ``(F, H, W, 3)``, F predicted frames.
        futures: uint8 ``(K, F, H, W, 3)``.
        truth: uint8 ``(F, H, W, 3)``, the future that happened.
        masks: F bool ``(H, W)``.
    """
    frames = len(truth)
    mean = np.rint(futures.astype(np.float64).mean(axis=0)).astype(np.uint8)
    out = {}
    for method, predicted in {**outputs, FUTURES_MEAN: mean}.items():
        per_frame = [{"psnr": psnr(predicted[j], truth[j], masks[j]),
                      **sharpness_scores(predicted[j], truth[j], masks[j]),
                      "commits": float(commits(predicted[j], futures[:, j], masks[j]))} for j in range(frames)]
        out[method] = [{k: float(np.mean([f[k] for f in per_frame[s * n:(s + 1) * n]])) for k in FUTURE_SCORES}
                       for s in range(frames // n)]
    return out


CROP_SEED = 0xC0DE  # clip i's moving crops at step s: np.random.default_rng([CROP_SEED, i, s])
SAMPLE_SEED = 0x5A4D  # the evaluation's latents: clip i's N are draw_latents((SAMPLE_SEED, i), noise, N)


def score_samples(samples: np.ndarray, truth: np.ndarray, masks: np.ndarray, n: int,
                  futures: np.ndarray | None = None, union: list[np.ndarray] | None = None) -> list[dict[str, float]]:
    """Per step (the mean over its ``n`` frames): the best and the mean PSNR of the N samples
    ``(N, F, H, W, 3)`` against ``truth`` ``(F, H, W, 3)`` on its moving regions ``masks`` ``(F, H,
    W)`` (SVG's and SAVP's best-of-N and mean-of-N), and the samples' diversity there; with the
    clip's ``futures`` ``(K, F, H, W, 3)`` and their moving regions' ``union`` (F masks), the share
    of futures some sample is nearest (coverage) and the best PSNR on the union."""
    per_frame = []
    for j in range(len(truth)):
        row = {"best_psnr": best_of_n(samples[:, j], truth[j], masks[j]),
               "mean_psnr": mean_of_n(samples[:, j], truth[j], masks[j]),
               "diversity": diversity(samples[:, j], masks[j])}
        if futures is not None:
            row["coverage"] = coverage(samples[:, j], futures[:, j], union[j])
            row["best_psnr_union"] = best_of_n(samples[:, j], truth[j], union[j])
        per_frame.append(row)
    return [{k: float(np.mean([f[k] for f in per_frame[s * n:(s + 1) * n]])) for k in per_frame[0]}
            for s in range(len(truth) // n)]


def union_masks(inputs: np.ndarray, futures: np.ndarray, threshold: float) -> list[np.ndarray]:
    """Per predicted frame, the union of the K futures ``(K, F, H, W, 3)``'s moving regions
    (:func:`~pyext.evaluation.metrics.union_motion_mask`), each from its own frame before: the
    last input ``inputs[-1]`` at the first, the future's own previous frame after."""
    return [union_motion_mask(inputs[-1] if j == 0 else futures[:, j - 1], futures[:, j], threshold)
            for j in range(futures.shape[1])]


@torch.no_grad()
def evaluate_clip(generator: Predictor, clip: np.ndarray, steps: int, threshold: float,
                  device: torch.device, label: int = 0, futures: np.ndarray | None = None,
                  latents: torch.Tensor | None = None) -> ClipResult:
    """Predicts and scores one clip.

    Args:
        clip: uint8 ``(m + steps * n, H, W, 3)``, H and W multiples of ``generator.size_multiple``.
        steps: recursive steps.
        threshold: optical-flow magnitude (pixels) above which a target pixel moves.
        label: the clip's class (what a class-conditioned generator is given).
        futures: uint8 ``(K, steps * n, H, W, 3)``, the clip's possible futures where recorded.
        latents: a generator with noise: ``(N, noise)``, one prediction from each (the first is the
            one scored as the model's; all N by :func:`score_samples`).
    """
    m, n = generator.input_frames, generator.output_frames
    inputs, targets = clip[:m], clip[m:m + steps * n]
    count = 1 if latents is None else len(latents)
    x = to_model(inputs)[None].to(device).expand(count, -1, -1, -1, -1)
    samples = to_uint8(generator.predict(x, steps, torch.full((count,), label, device=device), latents))
    predictions = samples[0]
    baselines = {}
    for name, baseline in _BASELINES.items():
        window = list(inputs)
        for _ in range(steps * n):  # fed back, like the model's predictions
            window.append(baseline(np.stack(window[-m:])))
        baselines[name] = np.stack(window[m:])
    masks = np.stack([motion_mask(clip[m + j - 1], clip[m + j], threshold) for j in range(steps * n)])
    outputs = {"model": predictions, **baselines}
    scores = {}
    for method, frames in outputs.items():
        per_frame = [frame_scores(frames[j], targets[j], masks[j]) for j in range(steps * n)]
        scores[method] = [{k: float(np.mean([f[k] for f in per_frame[s * n:(s + 1) * n]])) for k in SCORES}
                          for s in range(steps)]
    union = None if futures is None else union_masks(inputs, futures, threshold)
    against = None if futures is None else score_against_futures(outputs, futures, targets, union, n)
    sampled = None if latents is None else score_samples(samples, targets, masks, n, futures, union)
    return ClipResult(predictions, baselines, masks, scores, against, sampled)


def _mean(column: list[float], pooled: bool = False) -> float | None:
    """The mean of the finite values (NaN: an empty moving region; infinite: the log ratio of a
    prediction without any gradient there), rounded; with ``pooled``, the PSNR of that mean of
    squared errors (:func:`~pyext.evaluation.metrics.psnr_of_mse`). None where no value is left."""
    values = np.array(column, np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    return round(psnr_of_mse(values.mean()) if pooled else float(values.mean()), 4)


def summarise_futures(results: list[dict[str, list[dict[str, float]]]], steps: int, branches: int) -> dict:
    """Averages over clips of :func:`score_against_futures`: ``{"branches": K, "step1": {method:
    {score: ..., "psnr_pooled": ..., "commit_share": ...}}, ...}``; ``psnr_pooled`` is the PSNR of
    the clip-averaged squared error (a per-clip mean of PSNRs rewards an exact lucky guess with the
    100 dB cap), ``commit_share`` the share of clips whose prediction commits to one future."""
    summary: dict = {"branches": branches}
    for s in range(steps):
        step = summary[f"step{s + 1}"] = {}
        for method in results[0]:
            values = {k: _mean([r[method][s][k] for r in results]) for k in FUTURE_SCORES if k != "commits"}
            values["psnr_pooled"] = _mean([r[method][s]["mse"] for r in results], pooled=True)
            values["commit_share"] = _mean([r[method][s]["commits"] for r in results])
            step[method] = values
    return summary


def summarise_samples(results: list[list[dict[str, float]]], steps: int, count: int) -> dict:
    """Averages over clips of :func:`score_samples`: ``{"samples": N, "step1": {score: ...}, ...}``."""
    return {"samples": count, **{f"step{s + 1}": {k: _mean([r[s][k] for r in results]) for k in results[0][s]}
                                 for s in range(steps)}}


def summarise(results: list[dict[str, list[dict[str, float]]]], steps: int) -> dict:
    """Averages over clips: ``{method: {"step1": {metric: ..}, ...}}``. A clip whose moving region
    is empty at a step is left out of that step's moving-region averages; the authors' measure
    (``authors_*``) leaves out, as their script does, every clip scoring ``authors_psnr`` >=
    :data:`~pyext.evaluation.metrics.AUTHORS_PSNR_CUT` at that step, and counts those it keeps
    (``authors_clips``). ``psnr_pooled`` is the PSNR of the clip-averaged moving-region squared error."""
    summary = {}
    for method in METHODS:
        summary[method] = {}
        for s in range(steps):
            rows = [r[method][s] for r in results]
            kept = [row for row in rows if row["authors_psnr"] < AUTHORS_PSNR_CUT]
            values = {k: _mean([row[k] for row in (kept if k in AUTHORS_SCORES else rows)]) for k in SCORES}
            values["authors_clips"] = len(kept)
            values["psnr_pooled"] = _mean([row["mse"] for row in rows], pooled=True)
            summary[method][f"step{s + 1}"] = values
    return summary


def clip_picture(clip: np.ndarray, result: ClipResult, m: int, n: int = 1) -> np.ndarray:
    """The picture of one evaluated clip (:func:`pyext.pictures.comparison`): the truth, the
    model and the baselines in rows, one column per predicted frame plus a zoomed crop of the
    moving region of each; under each prediction its PSNR on this clip (moving region and whole
    frame, of its step), the truth's moving region outlined.

    Args:
        clip: uint8 ``(m + F, H, W, 3)``, F = ``len(result.predictions)``.
        n: frames per recursive step.
    Returns:
        uint8 ``(H', W', 3)``, at most :data:`pyext.pictures.MAX_WIDTH` wide.
    """
    future = len(result.predictions)
    captions = {_PICTURE_NAMES[method]: [_psnr_caption(result.scores[method][j // n]) for j in range(future)]
                for method in METHODS}
    return comparison(clip[m:m + future], _pictured(result), result.masks, captions, n)[0]


def _pictured(result: ClipResult) -> dict[str, np.ndarray]:
    """Each method's predicted frames ``(F, H, W, 3)`` under its name in the pictures, in :data:`METHODS` order."""
    frames = {"model": result.predictions, **result.baselines}
    return {_PICTURE_NAMES[method]: frames[method] for method in METHODS}


def _psnr_caption(scores: dict[str, float]) -> str:
    moving = "none moves" if math.isnan(scores["psnr"]) else f"{scores['psnr']:.1f} dB"
    return f"moving {moving}\nwhole {scores['psnr_full']:.1f} dB"


def clip_animation(clip: np.ndarray, result: ClipResult, m: int, path: Path) -> None:
    """An animated PNG of the recursive prediction (:func:`pyext.pictures.comparison_frames`):
    truth | model | last frame | optical flow, the inputs first, each predicted frame held longer."""
    future = len(result.predictions)
    pictures = comparison_frames(clip[:m], clip[m:m + future], _pictured(result))
    save_animation(path, pictures, [300] * m + [900] * future)


def class_picture(generator: Predictor, clip: np.ndarray, steps: int, device: torch.device,
                  names: list[str]) -> np.ndarray:
    """What class conditioning does: one clip's true future frames, then its prediction under
    each class of a class-conditioned generator (one row per class, named), one column per frame.

    Args:
        clip: uint8 ``(m + steps * n, H, W, 3)``.
        names: the class names (``generator.classes`` of them).
    """
    m = generator.input_frames
    x = to_model(clip[:m])[None].to(device).expand(generator.classes, -1, -1, -1, -1)
    predicted = to_uint8(generator.predict(x, steps, torch.arange(generator.classes, device=device)))
    zoom = max(1, 160 // clip.shape[1])  # small frames enlarged, as in the clips' pictures
    rows = [[enlarge(frame, zoom) for frame in frames] for frames in [clip[m:], *predicted]]
    labels = ["truth"] + [f"class {k}: {name}" for k, name in enumerate(names)]
    return labelled_grid(rows, labels, [f"t+{j + 1}" for j in range(len(predicted[0]))])[0]


def evaluate(params: Params, generator: Predictor, test_path: Path, out: EvaluationFiles,
             device: torch.device | None = None, progress: bool = True, class_names: list[str] | None = None,
             extra: dict | None = None) -> dict:
    """Writes ``out``'s metrics, predictions, series tables (per step, per clip) and pictures for
    the test clips of ``test_path``; returns the metrics. A class-conditioned generator predicts
    each clip under its class, and :data:`CLASSES_PICTURE` among the pictures shows the first
    pictured clip predicted under every class (:func:`class_picture`; ``class_names`` label the
    rows, their numbers where None). ``extra``: the model's own metrics, recorded beside.

    The predictions file holds the model's predictions of each evaluated clip at its frame size (a
    :class:`pyext.data.store.ClipArray` named ``predictions``), ``clip`` (the test clip indices)
    and ``crop_origin`` (N, 2); :func:`read_predictions` reads it."""
    ev, steps = params.evaluate, params.clip.test_steps
    device = device or next(generator.parameters()).device
    m, n = generator.input_frames, generator.output_frames
    # FID/KID, IS (pyext.evaluation.fid): each set of moving patches (a method's, the truth's, per step)
    # through the extractor and the classifier; each patch's clip's class.
    features, classifier, refused = networks(params, device)
    patch_labels: list[list[np.ndarray]] = [[] for _ in range(steps)]
    with open_store(test_path) as f:
        video, labels = f["video"][:], f["label"][:]
        names = store_videos(f)
        clips = ClipArray(f)
        recorded = futures_of(f)  # (rows, K) where the set records each clip's possible futures
        length = m + steps * n
        check_clips(test_path, clips.clip_shape, length, None, "clip.input_frames + clip.test_steps * clip.output_frames")
        chosen = select_clips(video, ev.protocol, ev.max_clips)
        crops_per_clip = -(-ev.fid_patches // max(len(chosen), 1))  # moving crops a clip and step, an even share
        results, per_clip, against, sampled = [], [], [], []
        samples = ev.samples if generator.noise else 0
        out.pictures.mkdir(parents=True, exist_ok=True)
        with atomic_output(out.predictions) as tmp, h5py.File(tmp, "w") as written:
            stored = ClipArrayWriter(written, "predictions", steps * n, None)
            written.create_dataset("clip", data=chosen.astype(np.int32), track_times=False)
            origins = written.create_dataset("crop_origin", shape=(len(chosen), 2), dtype=np.int16, track_times=False)
            written.attrs.update({"input_frames": m, "output_frames": n, "steps": steps, "test_file": str(test_path)})
            # Pictures of clips spread over the selection (the test list is grouped by class).
            drawn = set(np.linspace(0, len(chosen) - 1, min(ev.pictures, len(chosen))).round().astype(int).tolist())
            classes_drawn = not generator.classes  # the picture of every class: at the first pictured clip
            for i, index in enumerate(tqdm(chosen, desc="evaluate", unit="clip", disable=not progress)):
                # Each clip at its own frame size, centre-cropped to the model's size multiple.
                try:
                    window = centre_window(*clips.sizes[index], generator.size_multiple)
                except ValueError as exc:
                    raise ValueError(f"{test_path}: clip {index} of {printable(names[video[index]])}: {exc}") from None
                clip = clips.read(int(index), slice(0, length), *window)
                futures = None
                if recorded is not None:  # cropped as the clip is; their first steps * n frames
                    rows, branches = recorded
                    futures = rows.read(int(index), slice(None), *window).reshape(branches, -1, *clip.shape[1:])
                    futures = futures[:, :steps * n]
                latents = draw_latents((SAMPLE_SEED, int(index)), generator.noise, samples, device=device) \
                    if samples else None
                result = evaluate_clip(generator, clip, steps, ev.flow_threshold, device, int(labels[index]), futures,
                                       latents)
                if result.future_scores is not None:
                    against.append(result.future_scores)
                if result.sample_scores is not None:
                    sampled.append(result.sample_scores)
                outputs = {"model": result.predictions, **result.baselines, "truth": clip[m:length]}
                for s in range(steps if features is not None or classifier is not None else 0):
                    part = slice(s * n, (s + 1) * n)  # the step's true frames, and each one's frame before
                    moving = moving_crops(clip[m - 1:length - 1][part], clip[m:length][part], params.clip.patch,
                                          params.filter.min_motion, crops_per_clip,
                                          np.random.default_rng([CROP_SEED, int(index), s]))
                    if not len(moving):
                        continue
                    patch_labels[s].append(np.full(len(moving), labels[index], np.int64))
                    # Every set's patches of this step through one call; the classifier's, with their surroundings.
                    for network, side in ((features, None), (classifier, CONTEXT * params.clip.patch)):
                        if network is not None:
                            network.add({f"{name}/step{s + 1}": tiles(frames[part], moving, params.clip.patch, side)
                                         for name, frames in outputs.items()})
                stored.append(result.predictions[None])
                origins[i] = window[0].start, window[1].start
                results.append(result.scores)
                per_clip.append({"clip": int(index), "video": printable(names[video[index]]),
                                 **{method: round(result.scores[method][0]["psnr_full"], 4) for method in METHODS}})
                if i in drawn:
                    name = f"clip{int(index):05d}"
                    save_png(out.pictures / f"{name}.png", clip_picture(clip, result, m, n))
                    clip_animation(clip, result, m, out.pictures / f"{name}_animated.png")
                    if not classes_drawn:
                        classes_drawn = True
                        picture = class_picture(generator, clip, steps, device,
                                                class_names or [str(k) for k in range(generator.classes)])
                        save_png(out.pictures / CLASSES_PICTURE, picture)
    summary = summarise(results, steps)
    without = sum(any(math.isnan(r["model"][s]["psnr"]) for s in range(steps)) for r in results)
    metrics = {**summary, "clips": len(results), "clips_without_motion": without, **(extra or {})}
    if against:
        metrics["futures"] = summarise_futures(against, steps, recorded[1])
    if sampled:
        metrics["samples"] = summarise_samples(sampled, steps, samples)
    # The same seeded draw of at most evaluate.fid_patches moving patches in every set of a step.
    patch_labels = [np.concatenate(found) if found else np.zeros(0, np.int64) for found in patch_labels]
    chosen_rows = [seeded_rows(len(found), ev.fid_patches, s) for s, found in enumerate(patch_labels)]
    if features is not None:
        metrics.update(frame_distances(features, chosen_rows, ev.kid_subsets, ev.kid_subset_size))
    if refused:
        metrics["classifier_refused"] = refused
    if classifier is not None:
        metrics.update(class_measures(classifier, chosen_rows, patch_labels))
    write_json(out.metrics, metrics)
    # Series tables (pyext.tables): the PSNR of evaluate.measure per recursive step, whole-frame PSNR at
    # step 1 per test clip, one series per method.
    key = HEADLINE[ev.measure][0]
    write_series(out.steps, "step", list(range(1, steps + 1)),
                 {method: [summary[method][f"step{s + 1}"][key] for s in range(steps)] for method in METHODS})
    write_series(out.clips, "sample", list(range(len(per_clip))),
                 {method: [row[method] for row in per_clip] for method in METHODS},
                 {"clip": [row["clip"] for row in per_clip], "video": [row["video"] for row in per_clip]})
    return metrics


def frame_distances(features: FrameFeatures, rows: list[np.ndarray], subsets: int, subset_size: int) -> dict:
    """``{"fid": {"step1": {method: ..}}, "kid": {"step1": {method: {"mean", "std"}}},
    "feature_extractor": {...}}`` of each method's predicted moving patches against the true ones of
    the same step, the ``rows[s - 1]`` of step s (:func:`pyext.evaluation.fid.distances`; ``fid`` is
    absent where it is refused; a step with fewer than 2 moving patches has neither, and says so)."""
    out: dict = {"fid": {}, "kid": {}}
    for s, chosen in enumerate(rows, 1):
        if len(chosen) < 2:
            out.setdefault("feature_extractor", {})[f"step{s}_refused"] = \
                f"{len(chosen)} moving patches at step {s}: no distance"
            continue
        step = distances(features, f"truth/step{s}", [f"{method}/step{s}" for method in METHODS], subsets,
                         subset_size, chosen)
        if "fid" in step:
            out["fid"][f"step{s}"] = {method: step["fid"][f"{method}/step{s}"] for method in METHODS}
        out["kid"][f"step{s}"] = {method: step["kid"][f"{method}/step{s}"] for method in METHODS}
        out.setdefault("feature_extractor", {}).update({k: v for k, v in step.items() if k not in ("fid", "kid")})
    for key in ("fid", "kid"):
        if not out[key]:
            del out[key]
    return out


def class_measures(classifier: FrameFeatures, rows: list[np.ndarray], labels: list[np.ndarray]) -> dict:
    """The Inception Score (:func:`pyext.evaluation.fid.inception_scores`) and the class accuracy
    (the share named their clip's class, ``labels[s - 1]``) of each method's and the truth's moving
    patches of step s, its ``rows[s - 1]``: ``{"inception_score": {"step1": {name: {"mean", "std"}}},
    "class_accuracy": {"step1": {name: ..}}, "classifier": {...}}``."""
    out: dict = {"inception_score": {}, "class_accuracy": {}}
    names = (*METHODS, "truth")
    for s, chosen in enumerate(rows, 1):
        if not len(chosen):
            continue
        scored = inception_scores(classifier, [f"{name}/step{s}" for name in names], rows=chosen)
        out["inception_score"][f"step{s}"] = {name: scored["inception_score"][f"{name}/step{s}"] for name in names}
        out["class_accuracy"][f"step{s}"] = {
            name: round(class_accuracy(classifier.features(f"{name}/step{s}", chosen), labels[s - 1][chosen]), 4)
            for name in names}
        out["classifier"] = {k: v for k, v in scored.items() if k != "inception_score"}
    return out


def read_predictions(f: h5py.File) -> tuple[ClipArray, np.ndarray, np.ndarray]:
    """An open predictions file (:attr:`pyext.files.EvaluationFiles.predictions`): the predictions (clip i: uint8 (steps * n, h_i, w_i, 3)), the
    index of each one's test clip (N,) and the origin (top, left) of its crop of that clip (N, 2).
    Files written before test clips kept their own sizes hold one origin, as an attribute."""
    clip = f["clip"][:]
    origins = f["crop_origin"][:] if "crop_origin" in f else np.tile(f.attrs["crop_origin"], (len(clip), 1))
    return ClipArray(f, "predictions"), clip, origins.astype(np.int64)
