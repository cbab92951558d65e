"""GAIA's evaluation (Sainburg et al. 2018) on patch samples cut from the test clips.

Samples: random ``clip.patch``-square crops of the full-frame test clips of ``test.h5`` (seeded by
``extract.seed``, in rounds over the clips), kept when their motion score over the training clip's
frames reaches ``filter.min_motion`` (as the training patches were filtered), until
``evaluate.patches`` are kept. A sample is the crop's first ``frames`` frames (one with
``frames: single``).

Measured:
- reconstruction: G's reconstruction against the sample, PSNR over the whole sample, SSIM and the
  paper's sharpness per frame (:mod:`pyext.evaluation.metrics`), averaged; beside the PSNR of the PCA
  reference below (``psnr_pca``: the best a linear code of the same size does);
- structure: Spearman's rank correlation of the samples' pairwise distances in pixel space and in
  G's code space (:func:`pyext.evaluation.latent.structure_correlation`), beside the same for a PCA of as many
  components fitted on (up to 2048 of) the training samples of ``train.h5``, the reference point
  (fewer components where the set has fewer samples: ``pca_components``);
- interpolation realism: codes of the first half of the samples mixed with the second half's in
  ``INTERPOLATION_STEPS`` steps from 0 to 1, decoded, and D's reconstruction error (mean absolute,
  [0, 1] pixels) on them relative to its error on the real samples (1: D finds them as easy to
  reconstruct as real clips);
- FID and KID (:mod:`pyext.evaluation.fid`, ``evaluate.features``) of the samples' frames against
  GAIA's reconstructions, PCA's and the decoded midpoint interpolations (the codes mixed at the
  step nearest t = 0.5), and where a classifier applies (``evaluate.classifier``) their Inception
  Score and class accuracy.

Outputs: ``metrics.json``; ``predictions.h5`` (the reconstructions, a ClipArray ``predictions``,
with each sample's test clip ``clip`` and crop ``crop_origin``); ``plots/steps.csv`` (a series
table, :mod:`pyext.tables`: per interpolation step, D's error on the interpolations and on the real
samples, with t and their ratio); ``plots/clips.csv`` (per sample: GAIA's and PCA's reconstruction
PSNR, with its test clip and video); ``pictures/`` (reconstructions beside samples; an interpolation
grid as PNG and GIF; per class, samples moved by its attribute vector).
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import h5py
import numpy as np
import torch

from ..config import Params
from ..data.dataset import to_model, to_uint8
from ..files import DataFiles, EvaluationFiles, atomic_output, printable, write_json
from ..data.store import ClipArray, ClipArrayWriter, check_clips, open_store, store_videos
from .latent import PCA, attribute_vectors, interpolation_steps, structure_correlation
from ..losses.gaia import unit
from .metrics import psnr_per_clip, sharpness_difference, ssim
from ..models.gaia import GAIA
from ..pictures import clip_grid, frame_grid, save_animation, save_png
from ..tables import write_series
from .base import register_evaluation
from .fid import class_accuracy, distances, inception_scores, networks
from .patches import moving_patches

INTERPOLATION_STEPS = 8
_BATCH = 64
_PCA_SAMPLES = 2048  # training samples the PCA reference is fitted on (at most)


def test_samples(test_path: Path, model: GAIA, params: Params) -> dict[str, np.ndarray]:
    """The evaluation's samples (:func:`~.patches.moving_patches` of ``model.frames`` frames), an
    even number of them (pairs for the interpolations)."""
    cut = moving_patches(test_path, params, model.frames)
    if len(cut["clip"]) < 2:
        raise ValueError(f"{test_path}: {len(cut['clip'])} moving {params.clip.patch}x{params.clip.patch} patches in "
                         f"its test clips (filter.min_motion {params.filter.min_motion:g}); GAIA's evaluation needs "
                         f"at least 2")
    even = len(cut["clip"]) - len(cut["clip"]) % 2
    return {name: values[:even] for name, values in cut.items()}


@torch.no_grad()
def _batched(fn, *xs: torch.Tensor) -> torch.Tensor:
    """``fn`` on ``_BATCH`` rows at a time of the same-length tensors ``xs``, concatenated."""
    return torch.cat([fn(*(x[i:i + _BATCH] for x in xs)) for i in range(0, len(xs[0]), _BATCH)])


def _d_error(model: GAIA, x: torch.Tensor) -> np.ndarray:
    """D's reconstruction error per sample: mean absolute, on [0, 1] pixels, ``(N,)``."""
    recon = _batched(model.judge, x)
    return (unit(recon) - unit(x)).abs().flatten(1).mean(1).cpu().numpy().astype(np.float64)


def _training_samples(train_path: Path, model: GAIA, params: Params) -> tuple[torch.Tensor, np.ndarray]:
    """Up to ``_PCA_SAMPLES`` training clips of ``train_path`` as the model's samples
    ``(N, T, 3, P, P)``, and their class labels ``(N,)``."""
    with open_store(train_path) as f:
        stored = ClipArray(f)
        check_clips(train_path, stored.clip_shape, params.clip.train_frames, params.clip.patch,
                    "clip.input_frames + clip.output_frames, clip.patch")
        count = min(len(stored), _PCA_SAMPLES)
        clips = to_model(np.stack([stored[i] for i in range(count)]))
        labels = f["label"][:count].astype(np.int64)
    samples = model.samples(clips)
    return samples, np.repeat(labels, len(samples) // max(count, 1))


@register_evaluation("gaia")
def evaluate_gaia(params: Params, model: GAIA, source: Path, data: DataFiles, out: EvaluationFiles,
                  device: torch.device, progress: bool = True) -> list[str]:
    """GAIA's measures and pictures (the module docstring) on ``data.test``; the PCA reference is
    fitted on ``data.train``."""
    model = model.to(device).eval()
    cut = test_samples(data.test, model, params)
    x = to_model(cut["samples"]).to(device)  # (N, T, 3, P, P)
    codes = _batched(model.encode, x)
    recon = to_uint8(_batched(model.decode, codes))  # (N, T, P, P, 3)
    truth = cut["samples"]
    psnrs = psnr_per_clip(recon, truth)
    ssims = [np.mean([ssim(r, t) for r, t in zip(rs, ts)]) for rs, ts in zip(recon, truth)]
    sharp = [np.mean([sharpness_difference(r, t) for r, t in zip(rs, ts)]) for rs, ts in zip(recon, truth)]
    flat = x.flatten(1).cpu().numpy()  # the layout the training samples have
    training, training_labels = _training_samples(data.train, model, params)
    components = min(model.latent, *training.flatten(1).shape)  # as many as the codes have, where the set allows
    pca = PCA(training.flatten(1).numpy(), components)
    # PCA's reconstructions as a viewer sees them, the linear reference for GAIA's.
    pca_recon = to_uint8(torch.as_tensor(pca.reconstruct(flat).reshape(x.shape), dtype=torch.float32))
    pca_psnrs = psnr_per_clip(pca_recon, truth)
    structure = {"gaia": structure_correlation(flat, codes.cpu().numpy()),
                 "pca": structure_correlation(flat, pca.codes(flat))}
    real_error = float(_d_error(model, x).mean())
    half = len(x) // 2
    a, b = codes[:half], codes[half:]
    rows, grid = [], []
    ts = interpolation_steps(INTERPOLATION_STEPS)
    middle = int(np.argmin(np.abs(ts - 0.5)))
    for k, t in enumerate(ts):
        mixed = _batched(functools.partial(model.mix, t=float(t)), a, b)
        if k == middle:
            midpoint = to_uint8(mixed)
        error = float(_d_error(model, mixed).mean())
        rows.append({"step": k + 1, "t": round(float(t), 4), "d_error": round(error, 6),
                     # None where D reconstructs the real samples exactly: no ratio (JSON has no NaN).
                     "relative": round(error / real_error, 6) if real_error > 0 else None})
        grid.append(mixed[:params.evaluate.pictures])
    metrics = {"family": "gaia", "samples": len(x),
               "reconstruction": {"psnr": round(float(np.mean(psnrs)), 4), "ssim": round(float(np.mean(ssims)), 4),
                                  "sharpness": round(float(np.mean(sharp)), 4),
                                  "psnr_pca": round(float(np.mean(pca_psnrs)), 4)},
               "structure": {**{k: round(v, 4) for k, v in structure.items()}, "pca_components": components},
               "interpolation": {"d_error_real": round(real_error, 6),
                                 "relative_mean": round(float(np.mean([r["relative"] for r in rows])), 4)
                                 if real_error > 0 else None}}
    metrics.update(_distances(params, device, {"truth": truth, "gaia": recon, "pca": pca_recon,
                                               "interpolation": midpoint}, cut["label"]))
    write_json(out.metrics, metrics)
    with open_store(data.test) as f:
        names = store_videos(f)
    # Series tables (pyext.tables): D's error per interpolation step beside its error on the real
    # samples; each sample's reconstruction PSNR, GAIA's beside PCA's.
    write_series(out.steps, "step", [r["step"] for r in rows],
                 {"d_error_interpolations": [r["d_error"] for r in rows],
                  "d_error_real": [round(real_error, 6)] * len(rows)},
                 {"t": [r["t"] for r in rows],
                  "relative": [math.nan if r["relative"] is None else r["relative"] for r in rows]})
    write_series(out.clips, "sample", list(range(len(psnrs))),
                 {"gaia": [round(float(q), 4) for q in psnrs], "pca": [round(float(q), 4) for q in pca_psnrs]},
                 {"clip": [int(c) for c in cut["clip"]], "video": [printable(names[v]) for v in cut["video"]]})
    _write_reconstructions(out.predictions, recon, cut, model)
    _draw(out.pictures, x[:params.evaluate.pictures], recon[:params.evaluate.pictures],
          x[:half][:params.evaluate.pictures], x[half:][:params.evaluate.pictures], grid)
    _draw_attributes(out.pictures, model, training.to(device), training_labels, x[:params.evaluate.pictures],
                     cut["label"][:params.evaluate.pictures])
    psnr = metrics["reconstruction"]["psnr"]
    lines = []
    if "kid" in metrics:
        measure = "fid" if "fid" in metrics else "kid"
        values = {k: v if measure == "fid" else v["mean"] for k, v in metrics[measure].items()}
        lines.append(f"evaluate: {measure.upper()} against the samples' frames through "
                     f"{metrics['feature_extractor']['extractor_file']}: "
                     + ", ".join(f"{k} {v:.4g}" for k, v in values.items()))
    if "classifier_refused" in metrics:
        lines.append(f"evaluate: {metrics['classifier_refused']}")
    return [f"evaluate: GAIA on {len(x)} moving test patches: reconstruction PSNR {psnr} dB "
            f"(PCA {metrics['reconstruction']['psnr_pca']} dB); "
            f"structure correlation {structure['gaia']:.3f} (PCA {structure['pca']:.3f}); D's error on "
            f"interpolations {_ratio(metrics['interpolation']['relative_mean'])} its error on real clips; "
            f"see {out.metrics}, {out.pictures}/", *lines]


def _distances(params: Params, device: torch.device, sets: dict[str, np.ndarray], labels: np.ndarray) -> dict:
    """FID/KID of every set of ``sets`` (uint8 samples ``(N_s, T, P, P, 3)``) but ``truth`` against
    ``truth``, frame by frame; where a classifier applies, each set's Inception Score, and the class
    accuracy of those aligned with the samples (``labels`` ``(N,)``: each sample's class)."""
    features, classifier, refused = networks(params, device, surroundings=False)
    out: dict = {"classifier_refused": refused} if refused else {}
    for network in (features, classifier):
        if network is not None:
            for name, samples in sets.items():
                network.add_in_parts(name, samples.reshape(-1, *samples.shape[2:]), _BATCH * samples.shape[1])
    others = [name for name in sets if name != "truth"]
    if features is not None:
        measured = distances(features, "truth", others, params.evaluate.kid_subsets, params.evaluate.kid_subset_size)
        out.update({key: measured.pop(key) for key in ("fid", "kid") if key in measured})
        out["feature_extractor"] = measured
    if classifier is not None:
        scored = inception_scores(classifier, list(sets))
        out["inception_score"] = scored.pop("inception_score")
        frames = sets["truth"].shape[1]
        out["class_accuracy"] = {name: round(class_accuracy(classifier.features(name), np.repeat(labels, frames)), 4)
                                 for name, samples in sets.items() if len(samples) == len(labels)}
        out["classifier"] = scored
    return out


def _ratio(value: float | None) -> str:
    return "(no ratio: D reconstructs the real samples exactly)" if value is None else f"{value:.2f}x"


def _write_reconstructions(path: Path, recon: np.ndarray, cut: dict[str, np.ndarray], model: GAIA) -> None:
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as out:
        ClipArrayWriter(out, "predictions", recon.shape[1], recon.shape[2:4]).append(recon)
        out.create_dataset("clip", data=cut["clip"].astype(np.int32), track_times=False)
        out.create_dataset("crop_origin", data=cut["yx"].astype(np.int16), track_times=False)
        out.attrs.update({"family": "gaia", "frames": model.frames})


def _draw(folder: Path, x: torch.Tensor, recon: np.ndarray, first: torch.Tensor, second: torch.Tensor,
          grid: list[torch.Tensor]) -> None:
    """``reconstructions.png`` (each sample's frames, then its reconstruction's);
    ``interpolation.png`` (rows: pairs of samples; columns: the first, the decoded mixtures from
    t = 0 to 1, the second; each cell a sample's last frame) and ``interpolation.gif`` (the same grid
    playing the samples' frames)."""
    folder.mkdir(parents=True, exist_ok=True)
    both = torch.cat([x.cpu(), to_model(recon[:len(x)])], dim=1)
    save_png(folder / "reconstructions.png", frame_grid(both))
    cells = torch.stack([first.cpu(), *(g.cpu() for g in grid), second.cpu()], dim=1)  # (pairs, steps + 2, T, 3, P, P)
    frames = clip_grid(cells)
    save_png(folder / "interpolation.png", frames[-1])
    save_animation(folder / "interpolation.gif", frames)


def _draw_attributes(folder: Path, model: GAIA, training: torch.Tensor, labels: np.ndarray, x: torch.Tensor,
                     x_labels: np.ndarray) -> None:
    """``attribute_class<c>.png`` per class c of the training samples: each row a test sample's
    frames, its reconstruction's, then its code moved by the class's attribute vector (the paper's
    section 2.4: ``A[c] - A[own class]``, OLS of the training codes on the classes, decoded)."""
    if not len(x):
        return
    classes = int(max(labels.max(), x_labels.max())) + 1
    vectors = torch.as_tensor(attribute_vectors(_batched(model.encode, training).cpu().numpy(), labels, classes),
                              dtype=torch.float32, device=x.device)
    z = _batched(model.encode, x)
    for c in np.unique(labels):
        moved = _batched(model.decode, z + vectors[c] - vectors[torch.as_tensor(x_labels, device=x.device)])
        rows = torch.cat([x, _batched(model.decode, z), moved], dim=1).cpu()
        save_png(folder / f"attribute_class{int(c)}.png", frame_grid(rows))
