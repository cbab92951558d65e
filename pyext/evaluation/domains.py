"""Measures of a translation between two domains of frames (a :class:`~pyext.models.Translator`:
``G = mapping("ab")`` from domain A to B, ``F = mapping("ba")`` back), each beside its untranslated
reference, and their gathering from the pipeline's stores (the evaluation that writes them:
:mod:`.translation`):

- the test patches of each domain (:func:`domain_patches`: the moving patches a generator's
  evaluation measures, :func:`~.generation.real_images`, sorted by their clip's domain);
- FID and KID of translated patches against the target domain's, beside the untranslated source
  patches against them (:func:`direction_distances`);
- the cycle reconstruction PSNR of each domain's patches, ``x`` against ``F(G(x))`` and ``y`` against
  ``G(F(y))`` (:func:`cycle_psnr`);
- a domain classifier (:class:`DomainClassifier`, :func:`train_domain_classifier`), trained on real
  patches of both domains from held-out videos (:func:`held_out_patches`): the share of translated
  patches it assigns to the target domain, beside the share of the untranslated ones
  (:func:`target_share`);
- gathered: :func:`patch_measures` (all of the above per direction), :func:`domain_classifier` (the
  classifier and its accuracy on the test patches) and :func:`temporal_measures` (the test clips of
  each domain translated frame by frame at full frame, their warping error and flicker:
  :mod:`.temporal`).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..config import Params
from ..data.dataset import store_domains, to_model, to_uint8
from ..data.store import ClipArray, open_store
from ..data.video import centre_window
from ..files import DataFiles
from ..models import Translator
from ..models.base import seeded_generator
from .fid import FrameFeatures, distances, feature_extractor, seeded_rows
from .generation import EVAL_KEY
from .metrics import psnr_of_mse, psnr_per_clip
from .patches import ROUNDS, moving_patches
from .predictor import select_clips
from .samples import BATCH, one_frame_each
from .temporal import temporal_scores

DOMAINS = ("A", "B")  # domain 0 (data.source's videos) and 1 (data.translate.source's)
SOURCE_DOMAIN = {"ab": 0, "ba": 1}  # the domain a direction of Translator.mapping translates from
MAPPING_NAMES = {"ab": "G", "ba": "F"}  # the papers' names of the two mappings

CLASSIFIER_STEPS = 300  # updates of the domain classifier: it separates the demo's and the photos' sets in fewer
CLASSIFIER_BATCH = 64  # patches an update, half of each domain
CLASSIFIER_PATCHES = 4096  # at most this many held-out patches of each domain are read (one frame each)
CLASSIFIER_KEY = 0x646F6D61  # "doma": the classifier's weights and draws, (train.seed, this)
FRAME_BATCH = 8  # whole frames a call of a mapping (a 320x240 frame holds 75 patches' worth of activations)


# Crops a domain's test clips are tried for, as a multiple of the patches asked for: a domain of few
# test clips (the photo set's four) is cut more often than moving_patches' default allows.
_TRIES = 4


def domain_patches(test_path: Path, manifest_path: Path, params: Params) -> list[np.ndarray]:
    """Per domain, one frame of each of up to ``evaluate.fid_patches`` moving test patches of its
    test clips (:func:`~pyext.data.dataset.store_domains`; :func:`~.patches.moving_patches`, one
    frame each as a generator's evaluation draws it; each clip tried ``_TRIES x fid_patches / clips``
    times, at least as often as there): uint8 ``(N_A, P, P, 3)`` and ``(N_B, P, P, 3)``. FID needs more
    than twice the extractor's dimensions of each."""
    domains = store_domains(test_path, manifest_path)
    count, out = params.evaluate.fid_patches, []
    for d in range(len(DOMAINS)):
        rows = np.flatnonzero(domains == d)
        rounds = max(ROUNDS, math.ceil(_TRIES * count / max(len(rows), 1)))
        patches = moving_patches(test_path, params, params.clip.train_frames, count, rows, rounds)
        out.append(one_frame_each(patches["samples"], [params.extract.seed, EVAL_KEY, d]))
    return out


def translated(model: Translator, images: np.ndarray, direction: str, batch_size: int = BATCH) -> np.ndarray:
    """``model``'s ``direction`` of uint8 frames ``(N, H, W, 3)``, ``batch_size`` at a time, in its
    current mode (:meth:`~pyext.models.Translator.translate`): uint8 ``(N, H, W, 3)``."""
    return to_uint8(model.translate(to_model(images), direction, batch_size))


def cycled(model: Translator, images: np.ndarray, direction: str) -> np.ndarray:
    """Frames ``(N, H, W, 3)`` translated by ``direction`` and back, in floating point between the
    two (as the cycle loss sees them): ``F(G(x))`` for ``ab``, ``G(F(y))`` for ``ba``; uint8."""
    back = "ba" if direction == "ab" else "ab"
    there = model.translate(to_model(images), direction, BATCH)
    return to_uint8(model.translate(there, back, BATCH))


def cycle_psnr(images: np.ndarray, rebuilt: np.ndarray) -> dict:
    """The cycle reconstruction PSNR (dB, :func:`~.metrics.psnr_per_clip` of each patch, capped at
    :data:`~.metrics.PSNR_CAP` where exact) of uint8 patches ``(N, S, S, 3)`` against their cycle
    (:func:`cycled`): the mean over the patches, and the pooled PSNR of their mean squared error.

    Example:
        >>> x = np.zeros((2, 4, 4, 3), np.uint8)
        >>> cycle_psnr(x, x + 10)["mean"]  # every value 10 off: 10 log10(255^2 / 100)
        28.1308
    """
    per_patch = psnr_per_clip(rebuilt[:, None], images[:, None])
    squared = float(((rebuilt.astype(np.float64) - images) ** 2).mean())
    return {"mean": round(float(per_patch.mean()), 4), "pooled": round(psnr_of_mse(squared), 4),
            "patches": len(images)}


def direction_distances(features: FrameFeatures, source: str, target: str, translation: str,
                        params: Params) -> dict:
    """FID and KID (:func:`~.fid.distances`) of the set ``translation`` (a source domain's patches
    translated) and of the untranslated set ``source`` against the target domain's set ``target``,
    each set already added to ``features``.

    Returns:
        ``{"fid": {"translated", "untranslated"}, "kid": {...: {"mean", "std"}}, "feature_extractor":
        {...}}``; ``fid`` absent and ``feature_extractor["fid_refused"]`` saying why where the target
        set has no more than twice as many patches as dimensions.
    """
    measured = distances(features, target, [translation, source], params.evaluate.kid_subsets,
                         params.evaluate.kid_subset_size)
    named = {translation: "translated", source: "untranslated"}
    out = {key: {named[name]: value for name, value in measured.pop(key).items()}
           for key in ("fid", "kid") if key in measured}
    return {**out, "feature_extractor": measured}


# ------------------------------------------------------------------------------ the domain classifier


class DomainClassifier(nn.Module):
    """A small convolutional classifier of frames ``(N, 3, H, W)`` in [-1, 1] (any side of at least
    8): the logit ``(N,)`` that a frame is of domain B. Three 3x3 convolutions of stride 2 and a mean
    over positions: it reads colour, texture and local structure, not a frame's layout."""

    def __init__(self, maps: int = 16):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, maps, 3, 2, 1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(maps, 2 * maps, 3, 2, 1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(2 * maps, 2 * maps, 3, 2, 1), nn.LeakyReLU(0.2))
        self.head = nn.Linear(2 * maps, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.net(x).mean(dim=(2, 3))).squeeze(1)


def train_domain_classifier(a: np.ndarray, b: np.ndarray, seed: int, steps: int = CLASSIFIER_STEPS
                            ) -> DomainClassifier:
    """A :class:`DomainClassifier` trained on the CPU to tell uint8 frames ``a`` ``(N_A, S, S, 3)``
    (domain A) from ``b`` ``(N_B, S, S, 3)`` (domain B): ``steps`` Adam updates of the binary
    cross-entropy on batches of :data:`CLASSIFIER_BATCH`, half of each domain (so that unequal
    counts do not tilt it), its weights and batches a function of ``seed`` alone; torch's global
    random state is kept. Returned in eval mode.

    Raises:
        ValueError: a domain without frames.
    """
    if not len(a) or not len(b):
        raise ValueError(f"a domain classifier needs frames of both domains, got {len(a)} of A and {len(b)} of B")
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        classifier = DomainClassifier()
    finally:
        torch.random.set_rng_state(state)
    draws, half = seeded_generator([seed, CLASSIFIER_KEY]), CLASSIFIER_BATCH // 2
    x = {0: to_model(a), 1: to_model(b)}
    labels = torch.cat([torch.zeros(half), torch.ones(half)])
    optimiser = torch.optim.Adam(classifier.parameters(), lr=1e-3)
    classifier.train()
    for _ in range(steps):
        batch = torch.cat([x[d][torch.randint(len(x[d]), (half,), generator=draws)] for d in (0, 1)])
        loss = nn.functional.binary_cross_entropy_with_logits(classifier(batch), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return classifier.eval()


@torch.no_grad()
def b_share(classifier: DomainClassifier, images: np.ndarray) -> float:
    """The share of uint8 frames ``(N, S, S, 3)`` that ``classifier`` assigns to domain B (logit > 0);
    NaN for none."""
    if not len(images):
        return float("nan")
    logits = torch.cat([classifier(to_model(images[i:i + BATCH])) for i in range(0, len(images), BATCH)])
    return float((logits > 0).float().mean())


def target_share(classifier: DomainClassifier, images: np.ndarray, direction: str) -> float:
    """The share of frames ``(N, S, S, 3)`` that ``classifier`` assigns to the target domain of
    ``direction`` (B for ``ab``, A for ``ba``)."""
    share = b_share(classifier, images)
    return share if direction == "ab" else 1.0 - share


def held_out_patches(val_path: Path, manifest_path: Path, seed: int) -> list[np.ndarray]:
    """One frame of each of at most :data:`CLASSIFIER_PATCHES` validation patches (held-out videos,
    never trained on) of each domain, a seeded draw: uint8 ``(N_A, P, P, 3)`` and ``(N_B, P, P, 3)``."""
    domain = store_domains(val_path, manifest_path)
    out = []
    with open_store(val_path) as f:
        clips = ClipArray(f)
        for d in range(len(DOMAINS)):
            rows = np.flatnonzero(domain == d)
            rows = rows[seeded_rows(len(rows), CLASSIFIER_PATCHES, seed)]
            frames = np.random.default_rng([seed, CLASSIFIER_KEY, d]).integers(0, clips.clip_shape[0], len(rows))
            shape = (0, *clips.sizes[0], 3) if len(clips) else (0, 0, 0, 3)
            out.append(np.stack([clips.read(int(i), int(t)) for i, t in zip(rows, frames)]) if len(rows)
                       else np.zeros(shape, np.uint8))
    return out


# ------------------------------------------------------------------------------ the measures, gathered


def direction_names(direction: str) -> tuple[str, str, str]:
    """The source domain's name, the target's, and the translated set's (``G(A)``, ``F(B)``)."""
    source = DOMAINS[SOURCE_DOMAIN[direction]]
    return source, DOMAINS[1 - SOURCE_DOMAIN[direction]], f"{MAPPING_NAMES[direction]}({source})"


def rounded(value: float, digits: int = 6) -> float | None:
    """``value`` rounded, None where NaN (strict JSON has no NaN)."""
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def patch_measures(params: Params, model: Translator, patches: list[np.ndarray], classifier, device: torch.device
                   ) -> tuple[dict, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per direction, the measures on test patches (the module docstring): ``{"ab": {...}, "ba": {...}}``;
    and per direction the translated patches and their cycles (uint8 ``(N, S, S, 3)``).

    Args:
        patches: each domain's test patches, uint8 (:func:`~.domains.domain_patches`).
        classifier: the domain classifier, or None (not measured: its reason is the caller's to say).
    """
    features = feature_extractor(params, device)
    out, moved, back = {}, {}, {}
    for direction in SOURCE_DOMAIN:
        source, target, name = direction_names(direction)
        x, y = patches[SOURCE_DOMAIN[direction]], patches[1 - SOURCE_DOMAIN[direction]]
        moved[direction], back[direction] = translated(model, x, direction), cycled(model, x, direction)
        result: dict = {"mapping": MAPPING_NAMES[direction], "source": source, "target": target, "patches": len(x)}
        missing = {}
        if len(x):
            result["cycle_psnr"] = cycle_psnr(x, back[direction])
        else:
            missing["cycle_psnr"] = f"no moving test patch of domain {source}"
        if features is None:
            missing["distances"] = "evaluate.features is ''"
        elif min(len(x), len(y)) < 2:
            missing["distances"] = f"{len(x)} moving test patches of domain {source}, {len(y)} of {target}: FID and KID need 2 of each"
        else:
            for set_name, images in ((source, x), (target, y), (name, moved[direction])):
                if set_name not in features.sets:
                    features.add_in_parts(set_name, images, BATCH)
            result.update(direction_distances(features, source, target, name, params))
        if classifier is not None and len(x):
            result["target_share"] = {"translated": round(target_share(classifier, moved[direction], direction), 4),
                                      "untranslated": round(target_share(classifier, x, direction), 4)}
        if missing:
            result["not_measured"] = missing
        out[direction] = result
    return out, moved, back


def domain_classifier(params: Params, data: DataFiles, patches: list[np.ndarray]):
    """The domain classifier trained on ``data.val``'s patches of both domains, and what metrics.json
    says of it (its balanced accuracy on the test ``patches``), or None and why it is not measured."""
    held_out = held_out_patches(data.val, data.manifest, params.train.seed)
    counts = {name: len(frames) for name, frames in zip(DOMAINS, held_out)}
    if min(counts.values()) == 0:
        return None, {"not_measured": f"{data.val} holds {counts['A']} patches of domain A and {counts['B']} of B: "
                                      f"the classifier needs both"}
    classifier = train_domain_classifier(*held_out, params.train.seed)
    accuracy = {f"accuracy_{name}": rounded(b_share(classifier, frames) if d else 1 - b_share(classifier, frames), 4)
                for d, (name, frames) in enumerate(zip(DOMAINS, patches))}
    measured = [v for v in accuracy.values() if v is not None]
    return classifier, {"accuracy": round(float(np.mean(measured)), 4) if measured else None, **accuracy,
                        "held_out_patches": counts, "steps": CLASSIFIER_STEPS, "seed": params.train.seed}


def temporal_measures(params: Params, model: Translator, test: Path, manifest: Path, progress: bool
                      ) -> tuple[dict, dict[str, dict], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Per direction, the warping error and flicker over its source domain's test clips, each clip
    translated frame by frame at its size cropped to multiples of ``model.size_multiple``.

    Returns:
        the summary per direction (means over the clips, the count, the clips too small to crop);
        per direction, each clip's scores by its row in ``test`` (``{"clip": [...], "warping_error":
        [...], ...}``); per direction, the first clip's source and translated frames (uint8
        ``(T, H, W, 3)``), for the animation.
    """
    domain = store_domains(test, manifest)
    summary, per_clip, shown = {}, {}, {}
    with open_store(test) as f:
        clips, video = ClipArray(f), f["video"][:]
        for direction, d in SOURCE_DOMAIN.items():
            rows = np.flatnonzero(domain == d)
            rows = rows[select_clips(video[rows], params.evaluate.protocol, params.evaluate.max_clips)]
            fits = [int(i) for i in rows if min(clips.sizes[i]) >= model.size_multiple]
            scores: dict[str, list] = {"clip": []}
            for i in tqdm(fits, desc=f"evaluate {direction}", unit="clip", disable=not progress):
                window = centre_window(*clips.sizes[i], model.size_multiple)
                source = clips.read(i, slice(None), *window)
                frames = translated(model, source, direction, FRAME_BATCH)
                scores["clip"].append(i)
                for key, value in temporal_scores(source, frames).items():
                    scores.setdefault(key, []).append(value)
                if direction not in shown:
                    shown[direction] = (source, frames)
            per_clip[direction] = scores
            summary[direction] = _temporal_summary(scores, len(rows) - len(fits), DOMAINS[d])
    return summary, per_clip, shown


def _temporal_summary(scores: dict[str, list], small: int, source: str) -> dict:
    """Means over the clips of :func:`temporal_measures`' scores (NaN ones left out)."""
    def mean(key: str) -> float | None:
        values = [v for v in scores.get(key, []) if math.isfinite(v)]
        return rounded(float(np.mean(values))) if values else None

    out: dict = {"clips": len(scores["clip"])}
    if small:
        out["too_small"] = small
    if not scores["clip"]:
        return {**out, "not_measured": f"no test clip of domain {source} of at least the model's size multiple"}
    for key in ("warping_error", "flicker"):
        out[key] = {"translated": mean(key), "source": mean(f"{key}_source")}
    return out


__all__ = ["CLASSIFIER_STEPS", "DOMAINS", "FRAME_BATCH", "MAPPING_NAMES", "SOURCE_DOMAIN", "DomainClassifier",
           "b_share", "cycle_psnr", "cycled", "direction_distances", "direction_names", "domain_classifier",
           "domain_patches", "held_out_patches", "patch_measures", "rounded", "target_share", "temporal_measures",
           "train_domain_classifier", "translated"]
