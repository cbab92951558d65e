"""DeePSiM's inversion's evaluation (``model.family: inversion``; :mod:`pyext.models.inversion`)
on one frame of each moving test patch (the real images of a generator's evaluation:
:func:`~.generation.real_images`).

Each real image ``x`` is inverted, ``G(phi(x))``, by the trained inverter and by the same
architecture at step 0 (``untrained``: its weights drawn from ``train.seed`` as training drew them),
and measured against ``x``:

- PSNR (dB, over each image) and the gradient-energy ratio (:func:`~.metrics.gradient_energy_ratio`:
  1 as sharp as the image, below 1 blurred), averaged over the images (the ratio over those with a
  gradient);
- through the feature extractor (``evaluate.features``, which is not the inverted network: the
  shipped ``features.pt`` against ``inverted.pt``), FID, KID, precision, recall, density and
  coverage of the inversions against the real images, beside the real images blurred and noised
  (:data:`~.generation.REFERENCES`), as a generator's evaluation measures them (:func:`~.generation.measure`).

The pixel-loss-only reference is a second run of the family with ``model.inversion.feature_weight``
and ``adversarial_weight`` 0, evaluated the same way.

Outputs: ``metrics.json``; ``predictions.h5`` (the inversions, a ClipArray ``predictions`` of one
frame each); ``plots/steps.csv`` (PSNR, the gradient-energy ratio and FID/KID where measured, at step 0
and ``train.steps``); ``plots/clips.csv`` (per image: its PSNR and gradient-energy ratio, trained and
untrained); ``pictures/inversions.png`` (rows of real images, each above its inversions).
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch

from ..config import Params
from ..data.dataset import to_model, to_uint8
from ..data.store import ClipArrayWriter
from ..files import DataFiles, EvaluationFiles, atomic_output, write_json
from ..models.inversion import Inverter
from ..pictures import frame_grid, save_png
from ..tables import write_series
from .base import register_evaluation
from .extractor import distort
from .generation import GRID, REFERENCES, measure, real_images, untrained
from .metrics import gradient_energy_ratio, psnr_per_clip
from .samples import BATCH


@torch.no_grad()
def inversions(model: Inverter, real: np.ndarray, device: torch.device) -> np.ndarray:
    """``G(phi(x))`` of uint8 images ``(N, S, S, 3)``, :data:`BATCH` at a time: uint8 ``(N, S, S, 3)``."""
    return np.concatenate([to_uint8(model.invert(to_model(real[i:i + BATCH]).to(device)))
                           for i in range(0, len(real), BATCH)])


def image_scores(inverted: np.ndarray, real: np.ndarray) -> dict[str, np.ndarray]:
    """Per image: ``psnr`` (dB) and ``gradient_ratio`` of uint8 inversions against the real images
    ``(N, S, S, 3)`` (NaN where the real image has no gradient)."""
    return {"psnr": psnr_per_clip(inverted[:, None], real[:, None]),
            "gradient_ratio": np.array([gradient_energy_ratio(p, t) for p, t in zip(inverted, real)])}


def _summary(scores: dict[str, np.ndarray]) -> dict[str, float | None]:
    ratios = scores["gradient_ratio"][np.isfinite(scores["gradient_ratio"])]
    return {"psnr": round(float(np.mean(scores["psnr"])), 4),
            "gradient_ratio": round(float(np.mean(ratios)), 4) if len(ratios) else None}


@register_evaluation("inversion")
def evaluate_inversion(params: Params, model: Inverter, source: Path, data: DataFiles, out: EvaluationFiles,
                       device: torch.device, progress: bool = True) -> list[str]:
    """The inversion's measures and pictures (the module docstring) on ``data.test``."""
    model = model.to(device).eval()
    real, _ = real_images(data.test, params)
    sets = {"real": real, "generator": inversions(model, real, device),
            "untrained": inversions(untrained(model, params.train.seed).to(device), real, device),
            **{name: distort(real, kind, level, params.extract.seed) for name, (kind, level) in REFERENCES.items()}}
    scores = {name: image_scores(sets[name], real) for name in ("generator", "untrained")}
    measured = measure(params, device, sets)
    measured.pop("nearest_real", None)
    v = params.model.inversion
    metrics = {"family": "inversion", "samples": len(real), "size": model.size, "step": params.train.steps,
               "network": {"file": str(model.network), "sha256": model.phi.digest, "layer": model.layer,
                           "comparator_layer": model.comparator_layer},
               "weights": {"feature": v.feature_weight, "adversarial": v.adversarial_weight, "image": v.image_weight},
               "inversion": {name: _summary(s) for name, s in scores.items()},
               "references": {name: {"distortion": kind, "level": level} for name, (kind, level) in REFERENCES.items()},
               **measured}
    write_json(out.metrics, metrics)
    _write_tables(out, metrics, scores)
    _write_images(out.predictions, sets["generator"])
    out.pictures.mkdir(parents=True, exist_ok=True)
    shown = min(GRID, len(real))
    rows = torch.stack([to_model(real[:shown]), to_model(sets["generator"][:shown]), to_model(sets["untrained"][:shown])])
    save_png(out.pictures / "inversions.png", frame_grid(rows, zoom=2))
    trained = metrics["inversion"]["generator"]
    line = (f"evaluate: inversion of layer {model.layer} on {len(real)} frames of moving test patches: PSNR "
            f"{trained['psnr']} dB, gradient-energy ratio {trained['gradient_ratio']} (untrained "
            f"{metrics['inversion']['untrained']['psnr']} dB)")
    if "fid" in metrics:
        line += f"; FID {metrics['fid']['generator']:.4g} through {metrics['feature_extractor']['extractor_file']}"
    return [line + f"; see {out.metrics}, {out.pictures}/"]


def _write_tables(out: EvaluationFiles, metrics: dict, scores: dict[str, dict[str, np.ndarray]]) -> None:
    """``plots/steps.csv``: PSNR, the gradient-energy ratio and FID/KID (where measured) at step 0
    (the untrained inverter) and ``train.steps``; ``plots/clips.csv``: per image, both inverters' scores."""
    series = {name: [metrics["inversion"]["untrained"][name], metrics["inversion"]["generator"][name]]
              for name in ("psnr", "gradient_ratio")}
    if "fid" in metrics:
        series["fid"] = [metrics["fid"]["untrained"], metrics["fid"]["generator"]]
    if "kid" in metrics:
        series["kid"] = [metrics["kid"]["untrained"]["mean"], metrics["kid"]["generator"]["mean"]]
    write_series(out.steps, "step", [0, metrics["step"]],
                 {name: [float("nan") if v is None else v for v in values] for name, values in series.items()})
    write_series(out.clips, "sample", list(range(len(scores["generator"]["psnr"]))),
                 {f"{measure_name}_{name}": [round(float(v), 4) for v in s[measure_name]]
                  for name, s in scores.items() for measure_name in ("psnr", "gradient_ratio")})


def _write_images(path: Path, images: np.ndarray) -> None:
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        ClipArrayWriter(f, "predictions", 1, images.shape[1:3]).append(images[:, None])
        f.attrs.update({"family": "inversion"})


__all__ = ["evaluate_inversion", "image_scores", "inversions"]
