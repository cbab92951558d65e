"""The evaluation of a translator between two domains of videos (:class:`pyext.models.Translator`; the
``cyclegan``, ``discogan`` and ``dualgan`` families): domain A is ``data.source``'s videos, domain B
``data.translate.source``'s; ``G`` translates A to B (direction ``ab``), ``F`` B to A (``ba``). Every
measure is taken in both directions, beside its untranslated reference: what the source frames
themselves score, the honest baseline of a translation.

On patches (:mod:`.domains`): one frame of each of up to ``evaluate.fid_patches`` moving
``clip.patch``-square crops of each domain's test clips, cut as a generator's evaluation cuts them
(:func:`~.domains.domain_patches`), each translated as a patch (the side the mappings trained on):

- FID and KID (through ``evaluate.features``, :mod:`.fid`) of ``G(A)`` against B's patches beside
  A's own against them, and of ``F(B)`` against A's beside B's; not measured (and said why) where
  ``evaluate.features`` is '' or a domain has fewer than 2 patches; FID refused where the target
  domain has no more than twice as many patches as the extractor has dimensions;
- the cycle reconstruction PSNR: ``A`` against ``F(G(A))``, ``B`` against ``G(F(B))``;
- a domain classifier (:func:`~.domains.train_domain_classifier`, :data:`~.domains.CLASSIFIER_STEPS`
  updates on the CPU, seeded by ``train.seed``) trained on the validation patches of both domains
  (``data/val.h5``: held-out videos, never trained on): its balanced accuracy on the test patches,
  then the share of ``G(A)`` it judges B and of ``F(B)`` it judges A (``target_share``), beside the
  share of the untranslated patches (about 1 - accuracy: a translation should raise it towards 1).

Over time (:mod:`.temporal`): the test clips of each domain (``evaluate.protocol`` and
``evaluate.max_clips`` choose them, per domain), centre-cropped to multiples of the model's
``size_multiple`` (as the predictor's evaluation and the translate command crop them) and translated
frame by frame at that size: Lai et al.'s warping error (the source frames' optical flow, occlusions
masked; [0, 1] scale, squared error summed over RGB) and the flicker on still regions (mean absolute
change, 0..255), each beside the source frames' own.

Outputs: ``metrics.json``; ``predictions.h5`` (the translated test patches, a ClipArray
``predictions`` of one frame each, ``G(A)`` then ``F(B)``, and each one's ``direction``, 0 for ``ab``
and 1 for ``ba``); ``plots/steps.csv`` (every measure at ``train.steps``, a series per measure and
direction, the untranslated references beside); ``plots/clips.csv`` (per test clip, by its row in the
test store: the warping error and flicker of its translation and of itself); ``pictures/``
(``translations.png``: rows of test patches A, G(A), F(G(A)) and B, F(B), G(F(B)); ``translated.gif``:
a test clip of each domain beside its translation, frame by frame).
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch

from ..config import Params
from ..data.store import ClipArrayWriter
from ..files import DataFiles, EvaluationFiles, atomic_output, write_json
from ..models import Translator
from ..pictures import enlarge, labelled_grid, save_animation, save_png
from ..tables import SERIES_FIELDS, series_rows, write_csv, write_series
from .base import register_evaluation
from .domains import (DOMAINS, MAPPING_NAMES, SOURCE_DOMAIN, direction_names, domain_classifier, domain_patches,
                      patch_measures, rounded, temporal_measures)
from .generation import GRID
from .temporal import STILL_THRESHOLD

FRAME_DELAY_MS = 200  # the animation's frames
UNITS = {"warping_error": "Lai et al. 2018: frames on [0, 1], squared difference summed over RGB, mean over the "
                          "unoccluded pixels, then over consecutive pairs and test clips",
         "flicker": f"mean absolute change of a value (0..255) between consecutive frames where the source is "
                    f"still (every channel changes by less than {STILL_THRESHOLD}), over pairs and test clips",
         "cycle_psnr": "dB, per patch (mean) and of the mean squared error (pooled)",
         "target_share": "share of patches the domain classifier assigns to the direction's target domain"}


@register_evaluation("cyclegan")
@register_evaluation("discogan")
@register_evaluation("dualgan")
def evaluate_translator(params: Params, model: Translator, source: Path, data: DataFiles, out: EvaluationFiles,
                        device: torch.device, progress: bool = True) -> list[str]:
    """A translator's measures and pictures (the module docstring) on ``data.test``, its domain
    classifier trained on ``data.val``, each clip's domain from ``data.manifest``.

    Raises:
        ValueError: no moving test patch of either domain.
    """
    model = model.to(device).eval()
    patches = domain_patches(data.test, data.manifest, params)
    if not any(len(p) for p in patches):
        raise ValueError(f"{data.test}: no moving {params.clip.patch}x{params.clip.patch} patch in its test clips "
                         f"(filter.min_motion {params.filter.min_motion:g}); a translator's evaluation needs some")
    classifier, classified = domain_classifier(params, data, patches)
    measured, moved, back = patch_measures(params, model, patches, classifier, device)
    temporal, per_clip, shown = temporal_measures(params, model, data.test, data.manifest, progress)
    for direction in SOURCE_DOMAIN:
        measured[direction]["temporal"] = temporal[direction]
    metrics = {"family": model.family, "size": model.size, "size_multiple": model.size_multiple,
               "step": params.train.steps, "patches": {name: len(p) for name, p in zip(DOMAINS, patches)},
               "domain_classifier": classified, **measured, "units": UNITS}
    write_json(out.metrics, metrics)
    _write_series(out, metrics, per_clip)
    _write_translations(out.predictions, moved, model)
    out.pictures.mkdir(parents=True, exist_ok=True)
    save_png(out.translations, _patch_rows(patches, moved, back))
    if shown:
        save_animation(out.translated_clip, _clip_frames(shown), FRAME_DELAY_MS)
    return _lines(metrics, out)


_STEP_MEASURES = (  # (series name before and after the direction, the key path in a direction's metrics)
    ("fid", "", ("fid", "translated")), ("fid", " untranslated", ("fid", "untranslated")),
    ("kid", "", ("kid", "translated", "mean")), ("kid", " untranslated", ("kid", "untranslated", "mean")),
    ("cycle_psnr", "", ("cycle_psnr", "mean")),
    ("target_share", "", ("target_share", "translated")),
    ("target_share", " untranslated", ("target_share", "untranslated")),
    ("warping_error", "", ("temporal", "warping_error", "translated")),
    ("warping_error", " source", ("temporal", "warping_error", "source")),
    ("flicker", "", ("temporal", "flicker", "translated")), ("flicker", " source", ("temporal", "flicker", "source")))


def _lookup(tree: dict, path: tuple[str, ...]):
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def _write_series(out: EvaluationFiles, metrics: dict, per_clip: dict[str, dict]) -> None:
    """``plots/steps.csv``: each measured value at ``train.steps``, a series ``<measure> <direction>``;
    ``plots/clips.csv``: per test clip, its translation's warping error and flicker and its own."""
    series = {f"{name} {direction}{reference}": [value] for direction in SOURCE_DOMAIN
              for name, reference, path in _STEP_MEASURES if (value := _lookup(metrics[direction], path)) is not None}
    write_series(out.steps, "step", [metrics["step"]] if series else [], series)
    rows = []
    for direction, scores in per_clip.items():
        rows += series_rows("sample", scores["clip"], {
            f"{key.removesuffix('_source')} {direction}{' source' * key.endswith('_source')}": [rounded(v) for v in values]
            for key, values in scores.items() if key != "clip"})
    write_csv(out.clips, rows, ["sample", *SERIES_FIELDS])


def _write_translations(path: Path, moved: dict[str, np.ndarray], model: Translator) -> None:
    """The translated test patches, ``G(A)`` then ``F(B)``, and each one's direction (0: ab, 1: ba)."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        writer = ClipArrayWriter(f, "predictions", 1, (model.size, model.size))
        for images in moved.values():
            if len(images):
                writer.append(images[:, None])
        f.create_dataset("direction", data=np.concatenate([np.full(len(images), SOURCE_DOMAIN[d], np.int8)
                                                           for d, images in moved.items()]))
        f.attrs.update({"family": model.family})


def _patch_rows(patches: list[np.ndarray], moved: dict[str, np.ndarray], back: dict[str, np.ndarray]) -> np.ndarray:
    """Rows of up to :data:`~.generation.GRID` test patches of each domain, its translations and
    their cycles (zoom 2), labelled."""
    cells, labels = [], []
    for direction, d in SOURCE_DOMAIN.items():
        source, _, name = direction_names(direction)
        back_name = f"{MAPPING_NAMES['ba' if direction == 'ab' else 'ab']}({name})"
        for label, images in ((source, patches[d]), (name, moved[direction]), (back_name, back[direction])):
            if len(patches[d]):
                shown = [enlarge(image, 2) for image in images[:GRID]]
                cells.append(shown + [None] * (GRID - len(shown)))
                labels.append(label)
    return labelled_grid(cells, labels, [""] * GRID)[0]


def _clip_frames(shown: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """Per frame, a test clip of each domain beside its translation (a row per direction)."""
    length = min(len(source) for source, _ in shown.values())
    labels = [f"{direction_names(d)[0]} -> {direction_names(d)[1]}" for d in shown]
    return [labelled_grid([[source[t], frames[t]] for source, frames in shown.values()], labels,
                          ["source", "translated"], title=f"frame {t + 1} of {length}")[0] for t in range(length)]


def _lines(metrics: dict, out: EvaluationFiles) -> list[str]:
    classified = metrics["domain_classifier"]
    head = (f"evaluate: {metrics['family']} translator on {metrics['patches']['A']} moving test patches of domain A "
            f"and {metrics['patches']['B']} of B")
    head += (f"; domain classifier accuracy {classified['accuracy']} on them" if "accuracy" in classified
             else f"; domain classifier not measured: {classified['not_measured']}")
    lines = [head + f"; see {out.metrics}, {out.pictures}/"]
    for direction in SOURCE_DOMAIN:
        m = metrics[direction]
        source, target, name = direction_names(direction)
        parts = []
        if "fid" in m:
            parts.append(f"FID {m['fid']['translated']:.4g} (untranslated {m['fid']['untranslated']:.4g})")
        if "kid" in m:
            parts.append(f"KID {m['kid']['translated']['mean']:.4g} (untranslated {m['kid']['untranslated']['mean']:.4g})")
        if "fid_refused" in m.get("feature_extractor", {}):
            parts.append(f"FID not measured: {m['feature_extractor']['fid_refused']}")
        if "cycle_psnr" in m:
            parts.append(f"cycle PSNR {m['cycle_psnr']['mean']} dB")
        if "target_share" in m:
            parts.append(f"judged {target} {m['target_share']['translated']} (untranslated "
                         f"{m['target_share']['untranslated']})")
        t = m["temporal"]
        if "warping_error" in t:
            parts.append(f"warping error {t['warping_error']['translated']} (source {t['warping_error']['source']}), "
                         f"flicker {t['flicker']['translated']} (source {t['flicker']['source']}) over {t['clips']} clips")
        not_measured = {**m.get("not_measured", {}), **({"temporal": t["not_measured"]} if "not_measured" in t else {})}
        parts += [f"{key} not measured: {why}" for key, why in not_measured.items()]
        lines.append(f"evaluate: {source} -> {target} ({name}): " + "; ".join(parts))
    return lines


__all__ = ["evaluate_translator"]
