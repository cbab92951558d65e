"""The evaluation of a generator from noise (:class:`pyext.models.NoiseGenerator`; the ``dcgan``,
``lapgan``, ``vaegan`` (its decoder), ``biggan``, ``gran`` and ``icgan`` (its cGAN) families) against frames
of moving test patches.

Real images: ``evaluate.patches`` moving ``clip.patch``-square crops of the test clips
(:func:`~.patches.moving_patches`, as GAIA's samples are cut, kept where they move by
``filter.min_motion`` as the training patches were), one frame of each (drawn from
``extract.seed``), as training judges one frame of each training patch: N images. Generated: as
many images from standard normal latents drawn from ``(train.seed, EVAL_KEY)``, the model in eval
mode; a class-conditioned generator (``model.condition``) draws image i of real image i's class (the
test patches' labels), so the generated classes are in the real images' proportions.

Measured through the feature extractor (``evaluate.features``, :mod:`pyext.evaluation.fid`, with its
sample-size rules: FID refused where N <= 2d, KID at any size; the number of images, the dimension
and the extractor file's SHA-256 recorded), each against the real images:

- ``generator``: the trained generator's images;
- ``untrained``: the same architecture at step 0 (its weights drawn from ``train.seed`` as the
  training step drew them), from the same latents: what training gained;
- ``blurred`` and ``noisy``: the real images themselves under a Gaussian blur and under Gaussian
  noise (:data:`REFERENCES`): how far a mild degradation of the data itself lies, the scale to read
  the generator's distances on;
- ``truncation <t>``, per threshold of ``evaluate.truncation`` (the truncation curve, BigGAN's
  trick): the trained generator's images from the same latents truncated at ``t`` by resampling
  (:func:`truncated_latents`), where the family takes a truncation;

FID and KID (:func:`~.fid.distances`), improved precision and recall (Kynkaanniemi et al. 2019,
:func:`~.fid.precision_recall`, k-NN balls in the extractor's features), density and coverage
(Naeem et al. 2020, :func:`~.fid.density_coverage`, the same balls counted: on the demo set every
sample of the untrained generator, a flat grey image, falls in the ball of one low-contrast real
frame, which gives it precision 1 and density 1/k) and, where a classifier applies
(``evaluate.classifier``), the Inception Score and, where the generator is conditioned, the class
accuracy of every set: the share of its images the classifier assigns to the class asked for (the
real images' own, of ``real``, ``blurred`` and ``noisy``: how well the classifier reads the data).
Where the generator inverts (IcGAN's encoders), the real images rebuilt and edited to every class
are measured too (:mod:`.editing`: metrics.json's ``inversion``).

Outputs: ``metrics.json``; ``predictions.h5`` (the generated images, a ClipArray ``predictions``
of one frame each); ``plots/steps.csv`` (a series table over the training step, 0 and
``train.steps``: the generator's FID (where measured), KID, precision, recall, density and coverage);
``plots/clips.csv`` (per generated image: the distance of its features to the nearest real
image's, trained and untrained); ``pictures/`` (``samples.png``: a grid of generated images;
``untrained.png`` and ``real.png`` the same for the untrained generator and the real images;
``truncation.png``, where a truncation curve is measured: a row of the generator's images, then one per
threshold from the same latents truncated; where the generator draws in steps (GRAN's),
``canvases.png``: a row per step of the images so far, from the same latents; where
the generator also encodes, VAE-GAN's and IcGAN's, ``reconstructions.png``: real images above its
reconstructions; where it inverts, IcGAN's, ``edits.png``: a column per real image, the real images
above their reconstructions and a row of their edits per class;
where it is conditioned, ``classes.png``: a row per class from the same latents). A conditioned
generator's ``predictions.h5`` holds each image's class, ``label``.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch

from ..config import Params
from ..data.dataset import check_classes, to_model
from ..data.store import ClipArrayWriter
from ..files import DataFiles, EvaluationFiles, atomic_output, write_json
from ..models import NoiseGenerator, draw_latents
from ..models.base import latent_stream
from ..pictures import frame_grid, save_png
from ..tables import write_series
from .base import register_evaluation
from .editing import edit_rows, invert, inversion_line, inversion_metrics
from .extractor import distort
from .fid import (DC_NEIGHBOURS, PR_NEIGHBOURS, class_accuracy, density_coverage, distances, inception_scores,
                  nearest_real, networks, precision_recall)
from .patches import moving_patches
from .samples import BATCH, generated, one_frame_each

EVAL_KEY = 0x6576616C  # "eval": the evaluation's latents, (train.seed, this), apart from every training draw
# The references: the real images degraded (pyext.evaluation.extractor.DISTORTIONS' kinds), mild levels.
REFERENCES = {"blurred": ("gaussian blur", 1.0), "noisy": ("gaussian noise", 16.0)}
GRID = 8  # the pictures' grids: GRID x GRID images (fewer where there are fewer)


def real_images(test_path: Path, params: Params) -> tuple[np.ndarray, np.ndarray]:
    """One frame of each moving test patch: uint8 ``(N, P, P, 3)`` (the module docstring), and each
    one's class, its test clip's label ``(N,)`` int64.

    Raises:
        ValueError: fewer than 2 moving patches in the test clips.
    """
    patches = moving_patches(test_path, params, params.clip.train_frames)
    cut = patches["samples"]  # (N, T, P, P, 3)
    if len(cut) < 2:
        raise ValueError(f"{test_path}: {len(cut)} moving {params.clip.patch}x{params.clip.patch} patches in its test "
                         f"clips (filter.min_motion {params.filter.min_motion:g}); a generator's evaluation needs "
                         f"at least 2")
    return one_frame_each(cut, [params.extract.seed, EVAL_KEY]), patches["label"]


def truncated_latents(model: NoiseGenerator, n: int, thresholds, seed: int) -> dict[str, torch.Tensor]:
    """The truncation curve's latents: per threshold ``t`` of ``thresholds`` (``evaluate.truncation``),
    ``n`` latents ``(n, latent)`` truncated at ``t`` (:meth:`~pyext.models.NoiseGenerator.latents`),
    named ``truncation <t>``, drawn from the stream of the evaluation's own latents ``(seed,
    EVAL_KEY)``, so that every threshold keeps the values of those that lie inside it; empty where the
    model takes no truncation or none is asked for."""
    if not model.truncatable:
        return {}
    return {f"truncation {t:g}": model.latents(n, latent_stream((seed, EVAL_KEY)), truncation=t)
            for t in thresholds}


def _truncation_note(model: NoiseGenerator, thresholds, truncated: dict[str, torch.Tensor]) -> dict:
    """What metrics.json says of the truncation curve: its sets' names (those of
    :func:`truncated_latents`' ``truncated``), or why there is none."""
    if not thresholds:
        return {}
    if not model.truncatable:
        return {"truncation_refused": f"the {model.family} generator takes no truncation"}
    return {"truncation": {"thresholds": list(thresholds), "sets": list(truncated),
                           "latents": "the generator's latents truncated by resampling: those of their values "
                                      "inside a threshold kept"}}


def untrained(model: NoiseGenerator, seed: int) -> NoiseGenerator:
    """``model``'s architecture with the weights a training step of ``train.seed`` = ``seed`` starts
    from (it seeds torch's generator, then builds the generator first), in eval mode; torch's global
    random state is kept."""
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        fresh = type(model)(**model.config())
    finally:
        torch.random.set_rng_state(state)
    return fresh.eval()


def measure(params: Params, device: torch.device, sets: dict[str, np.ndarray], labels: np.ndarray | None = None,
            classified: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> dict:
    """FID, KID, precision, recall, density and coverage of every set of ``sets`` (uint8 images ``(N_s, S, S, 3)``) but
    ``real`` against ``real``; where a classifier applies, each set's Inception Score, and with
    ``labels`` ``(N,)`` (the class of each set's image i: every set of N images) each set's class
    accuracy, beside that of each set of ``classified`` (name -> uint8 images and the class asked of
    each), which the classifier alone reads. Empty where ``evaluate.features`` is ''."""
    features, classifier, refused = networks(params, device, surroundings=False)
    out: dict = {"classifier_refused": refused} if refused else {}
    classified = classified or {}
    for network in (features, classifier):
        if network is not None:
            for name, images in sets.items():
                network.add_in_parts(name, images, BATCH)
    if classifier is not None:
        for name, (images, _) in classified.items():
            classifier.add_in_parts(name, images, BATCH)
    others = [name for name in sets if name != "real"]
    if features is not None:
        measured = distances(features, "real", others, params.evaluate.kid_subsets, params.evaluate.kid_subset_size)
        out.update({key: measured.pop(key) for key in ("fid", "kid") if key in measured})
        real = features.features("real")
        for (first, second), measure_pair, k, key in (
                (("precision", "recall"), precision_recall, PR_NEIGHBOURS, "pr"),
                (("density", "coverage"), density_coverage, DC_NEIGHBOURS, "dc")):
            if len(real) > k:
                pairs = {name: measure_pair(real, features.features(name)) for name in others}
                out[first] = {name: round(a, 4) for name, (a, _) in pairs.items()}
                out[second] = {name: round(b, 4) for name, (_, b) in pairs.items()}
                measured[f"{key}_neighbours"] = k
            else:
                measured[f"{key}_refused"] = f"{len(real)} images: {first} and {second} need more than k = {k}"
        out["nearest_real"] = {name: nearest_real(features.features(name), real) for name in ("generator", "untrained")}
        out["feature_extractor"] = measured
    if classifier is not None:
        scored = inception_scores(classifier, list(sets))
        out["inception_score"] = scored.pop("inception_score")
        out["classifier"] = scored
        asked = {name: labels for name in sets} if labels is not None else {}
        asked |= {name: classes for name, (_, classes) in classified.items()}
        if asked:
            out["class_accuracy"] = {name: round(class_accuracy(classifier.features(name), classes), 4)
                                     for name, classes in asked.items()}
    return out


@register_evaluation("dcgan")
@register_evaluation("lapgan")
@register_evaluation("vaegan")
@register_evaluation("biggan")
@register_evaluation("gran")
@register_evaluation("icgan")
def evaluate_generator(params: Params, model: NoiseGenerator, source: Path, data: DataFiles, out: EvaluationFiles,
                       device: torch.device, progress: bool = True) -> list[str]:
    """A generator from noise's measures and pictures (the module docstring) on ``data.test``."""
    model = model.to(device).eval()
    real, real_labels = real_images(data.test, params)
    n, seed = len(real), params.train.seed
    z = draw_latents((seed, EVAL_KEY), model.latent, n, device=device)
    labels, conditioned = None, {}
    if model.classes:  # image i of real image i's class: the real images' class proportions
        check_classes(real_labels, model.classes, data.test, source)
        labels = torch.as_tensor(real_labels, device=device)
        conditioned = {"classes": model.classes, "labels": "each generated image of its real image's class (the "
                                                            "moving test patches' labels)"}
    truncated = truncated_latents(model, n, params.evaluate.truncation, seed)
    sets = {"real": real, "generator": generated(model, z, labels),
            "untrained": generated(untrained(model, seed).to(device), z, labels),
            **{name: distort(real, kind, level, params.extract.seed) for name, (kind, level) in REFERENCES.items()},
            **{name: generated(model, latents.to(device), labels) for name, latents in truncated.items()}}
    inverted = invert(model, real, device)  # IcGAN's real images rebuilt and edited; None where not inverted
    measured = measure(params, device, sets, None if labels is None else real_labels,
                       None if inverted is None else inverted.classified())
    if inverted is not None:
        measured["inversion"] = inversion_metrics(inverted, real, real_labels, measured)
    nearest = measured.pop("nearest_real", {})
    metrics = {"family": model.family, "samples": n, "size": model.size, "latent": model.latent, **conditioned,
               "step": params.train.steps, "latents": f"standard normal, drawn from (train.seed {seed}, {EVAL_KEY:#x})",
               "references": {name: {"distortion": kind, "level": level} for name, (kind, level) in REFERENCES.items()},
               **_truncation_note(model, params.evaluate.truncation, truncated),
               **measured}
    write_json(out.metrics, metrics)
    _write_series(out, metrics, nearest, params.train.steps)
    _write_images(out.predictions, sets["generator"], model, None if labels is None else real_labels)
    out.pictures.mkdir(parents=True, exist_ok=True)
    for name, picture in (("samples", "generator"), ("untrained", "untrained"), ("real", "real")):
        save_png(out.pictures / f"{name}.png", _grid(sets[picture]))
    if model.classes:
        save_png(out.pictures / "classes.png", _class_rows(model, z[:GRID]))
    if truncated:
        rows = [sets["generator"][:GRID], *(sets[name][:GRID] for name in truncated)]
        save_png(out.pictures / "truncation.png", _grid(np.concatenate(rows), columns=min(GRID, n)))
    canvases = model.canvases(z[:GRID])
    if canvases is not None:  # a generator that draws in steps: the image after each step, a row a step
        save_png(out.pictures / "canvases.png", frame_grid(canvases.float().clamp(-1, 1).cpu(), zoom=2))
    reconstructions = _reconstructions(model, real[:GRID], device)
    if reconstructions is not None:
        save_png(out.pictures / "reconstructions.png", reconstructions)
    if inverted is not None:  # a column per real image: it, its reconstruction, its edit to each class
        rows = edit_rows(inverted, real, min(GRID, n))
        save_png(out.pictures / "edits.png", _grid(np.concatenate(rows), columns=rows.shape[1], most=len(rows)))
    return _lines(metrics, n, out) + ([] if inverted is None else [inversion_line(metrics["inversion"])])


def _write_series(out: EvaluationFiles, metrics: dict, nearest: dict[str, np.ndarray], steps: int) -> None:
    """``plots/steps.csv``: the generator's measures at step 0 (the untrained generator) and at
    ``steps``; ``plots/clips.csv``: per generated image, the distance to the nearest real image's
    features (both empty of series where nothing was measured: ``evaluate.features: ''``)."""
    series = {}
    for measure_name in ("fid", "kid", "precision", "recall", "density", "coverage"):
        values = metrics.get(measure_name)
        if values:
            pick = (lambda v: v["mean"]) if measure_name == "kid" else (lambda v: v)
            series[measure_name] = [pick(values["untrained"]), pick(values["generator"])]
    write_series(out.steps, "step", [0, steps] if series else [], series)
    count = len(next(iter(nearest.values()))) if nearest else 0
    write_series(out.clips, "sample", list(range(count)),
                 {name: [round(float(v), 6) for v in values] for name, values in nearest.items()})


def _write_images(path: Path, images: np.ndarray, model: NoiseGenerator, labels: np.ndarray | None) -> None:
    """The generated images, and where conditioned each one's class ``labels`` ``(N,)``."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        ClipArrayWriter(f, "predictions", 1, images.shape[1:3]).append(images[:, None])
        f.attrs.update({"family": model.family, "latent": model.latent})
        if labels is not None:
            f.create_dataset("label", data=labels.astype(np.int64))


def _grid(images: np.ndarray, columns: int = GRID, most: int = GRID) -> np.ndarray:
    """Up to ``most`` x ``columns`` uint8 images ``(N, S, S, 3)`` as one picture, rows of ``columns`` (zoom 2)."""
    columns = min(columns, len(images))
    rows = min(most, len(images) // columns)
    x = to_model(images[:rows * columns]).reshape(rows, columns, *images.shape[3:], *images.shape[1:3])
    return frame_grid(x, zoom=2)


@torch.no_grad()
def _class_rows(model: NoiseGenerator, z: torch.Tensor) -> np.ndarray:
    """A conditioned generator's images of latents ``z`` ``(G, latent)``, a row per class (every row
    the same latents, so that a row differs from another by its class alone; zoom 2)."""
    labels = torch.arange(model.classes, device=z.device).repeat_interleave(len(z))
    images = model(z.repeat(model.classes, 1), labels).float().clamp(-1, 1)
    return frame_grid(images.reshape(model.classes, len(z), *images.shape[1:]).cpu(), zoom=2)


@torch.no_grad()
def _reconstructions(model: NoiseGenerator, real: np.ndarray, device: torch.device) -> np.ndarray | None:
    """A row of real uint8 images ``(N, S, S, 3)`` above a row of ``model``'s reconstructions of them
    (zoom 2); None where the model does not encode."""
    x = to_model(real).to(device)
    rebuilt = model.reconstruct(x)
    return None if rebuilt is None else frame_grid(torch.stack([x, rebuilt.float().clamp(-1, 1)]).cpu(), zoom=2)


def _lines(metrics: dict, n: int, out: EvaluationFiles) -> list[str]:
    head = f"evaluate: {metrics['family']}, {n} generated images against {n} frames of moving test patches"
    if "kid" not in metrics:
        return [f"{head}: no distances (evaluate.features is ''); see {out.pictures}/"]
    extractor = metrics["feature_extractor"]
    parts = []
    if "fid" in metrics:
        parts.append("FID " + ", ".join(f"{k} {v:.4g}" for k, v in metrics["fid"].items()))
    parts.append("KID " + ", ".join(f"{k} {v['mean']:.4g}" for k, v in metrics["kid"].items()))
    if "precision" in metrics:
        parts.append(f"precision {metrics['precision']['generator']:.3f}, recall {metrics['recall']['generator']:.3f} "
                     f"(untrained {metrics['precision']['untrained']:.3f}, {metrics['recall']['untrained']:.3f})")
    if "density" in metrics:
        parts.append(f"density {metrics['density']['generator']:.3f}, coverage {metrics['coverage']['generator']:.3f} "
                     f"(untrained {metrics['density']['untrained']:.3f}, {metrics['coverage']['untrained']:.3f})")
    lines = [f"{head} through {extractor['extractor_file']}: " + "; ".join(parts)
             + f"; see {out.metrics}, {out.pictures}/"]
    for key in ("fid_refused", "pr_refused", "dc_refused"):
        if key in extractor:
            lines.append(f"evaluate: {extractor[key]}")
    if "class_accuracy" in metrics:
        accuracy = metrics["class_accuracy"]
        lines.append(f"evaluate: class accuracy {accuracy['generator']:.3f} of the generated images (untrained "
                     f"{accuracy['untrained']:.3f}, real {accuracy['real']:.3f}): the share the classifier assigns "
                     f"to the class asked for")
    if "classifier_refused" in metrics:
        lines.append(f"evaluate: {metrics['classifier_refused']}")
    return lines
