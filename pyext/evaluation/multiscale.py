"""The predictors' evaluation (the paper's section 4: :func:`pyext.evaluation.predictor.evaluate`) for the
``multiscale`` family; with ACGAN's class head (``model.condition: acgan``) also the head's accuracy
on moving test patches (:func:`class_head_accuracy`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..config import OBJECTIVES, Params, ParamsError
from ..data.dataset import check_classes, to_model
from ..data.store import open_store
from ..files import DataFiles, EvaluationFiles
from .predictor import CLASSES_PICTURE, HEADLINE, METHODS, evaluate
from ..losses import make_condition
from ..losses.conditioning import manifest_classes
from ..models import DISCRIMINATORS, Predictor
from .base import register_evaluation
from .patches import moving_patches
from .probe import probe_accuracy

_BATCH = 64


@torch.no_grad()
def class_head_accuracy(params: Params, generator: Predictor, state: dict[str, torch.Tensor], test_path: Path,
                        device: torch.device) -> dict:
    """How often the trained discriminator's class head (weights ``state``, saved with the
    generator) names the class of a real moving test patch (:func:`~.patches.moving_patches`:
    its input frames then its true future frames), per scale and with the scales' log-probabilities
    summed; beside chance (1 / classes) and the share of the commonest class among the patches.

    Raises:
        ValueError: the saved weights do not fit the discriminator the params describe, or no
            test patch moves.
    """
    condition = make_condition(params, generator.classes)
    kind = OBJECTIVES[params.loss.adversarial.kind].discriminator
    D = DISCRIMINATORS[kind].from_params(params, **condition.discriminator)
    try:
        D.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"the discriminator saved with the generator does not fit the params' "
                         f"({str(exc).splitlines()[0]}): rerun train") from None
    D.to(device).eval()
    cut = moving_patches(test_path, params, params.clip.train_frames)
    if not len(cut["label"]):
        raise ValueError(f"{test_path}: no moving {params.clip.patch}x{params.clip.patch} patch in its test clips "
                         f"(filter.min_motion {params.filter.min_motion:g}) to measure the class head on")
    labels = torch.from_numpy(cut["label"])
    scores = []  # per batch: log-probabilities per scale (S, b, C)
    for i in range(0, len(labels), _BATCH):
        clips, m = to_model(cut["samples"][i:i + _BATCH]).to(device), params.clip.input_frames
        x, y = clips[:, :m], clips[:, m:]
        scores.append(torch.stack([z[:, 1:].float().log_softmax(1) for z in D(y, x)]).cpu())
    logp = torch.cat(scores, dim=1)
    right = (logp.argmax(2) == labels).float().mean(1)
    return {"patches": len(labels), "accuracy_per_scale": [round(float(a), 4) for a in right],
            "accuracy": round(float((logp.sum(0).argmax(1) == labels).float().mean()), 4),
            "chance": round(1 / generator.classes, 4),
            "commonest_class": round(float(np.bincount(cut["label"]).max() / len(labels)), 4)}


@register_evaluation("multiscale")
def evaluate_predictor(params: Params, generator: Predictor, source: Path, data: DataFiles, out: EvaluationFiles,
                       device: torch.device, progress: bool = True) -> list[str]:
    """The predictor against copying the last frame and extrapolating the optical flow on the
    full-frame test clips; the lines say where the numbers are and when the model is worse."""
    clip = params.clip
    if (generator.input_frames, generator.output_frames) != (clip.input_frames, clip.output_frames):
        raise ParamsError("params.yaml", "clip.input_frames",
                          f"{generator.input_frames} -> {generator.output_frames} frames, as {source} "
                          f"was trained, got {clip.input_frames} -> {clip.output_frames} (rerun train)")
    test, names, extra = data.test, None, {}
    if generator.classes:  # predicted under each test clip's class
        with open_store(test) as f:
            check_classes(f["label"][:], generator.classes, test, source)
        names = manifest_classes(data.manifest) if data.manifest.is_file() else None
        names = names if names is not None and len(names) == generator.classes else None
        saved = torch.load(source, map_location="cpu", weights_only=True)
        if "discriminator" in saved:  # ACGAN's class head
            extra["class_head"] = class_head_accuracy(params, generator, saved["discriminator"], test, device)
    if params.evaluate.probe_steps:
        extra["probe"] = probe_accuracy(generator, clip.patch, params.model.multiscale.d_leak, data.train, data.val,
                                        params.evaluate.probe_steps, device, params.train.seed)
    metrics = evaluate(params, generator, test, out, device, progress, names, extra)
    key, name = HEADLINE[params.evaluate.measure]
    step1 = {m: metrics[m]["step1"][key] for m in METHODS}
    lines = [f"evaluate: {metrics['clips']} clips; {name} at step 1: "
             + ", ".join(f"{m} {v}" for m, v in step1.items())
             + f"; see {out.metrics}, {out.pictures}/"]
    extractor = metrics.get("feature_extractor")
    if extractor is not None and "extractor_file" in extractor:
        refused = extractor.get("fid_refused")
        line = (f"evaluate: {'KID' if refused else 'KID and FID'} through {extractor['extractor_file']} "
                f"({extractor['patches']} moving patches at the last step, {extractor['dimension']} features)")
        lines.append(line + (f"; FID not computed: {refused}" if refused else ""))
    probe = metrics.get("probe")
    if probe is not None:
        lines.append(f"evaluate: a fresh discriminator trained {probe['steps']} steps against the generator tells "
                     f"{probe['accuracy']:.1%} of {probe['clips']} held-out clips from their predictions (chance 50%)")
    head = metrics.get("class_head")
    if head is not None:
        lines.append(f"evaluate: the discriminator's class head names the class of {head['accuracy']:.1%} of "
                     f"{head['patches']} moving test patches (chance {head['chance']:.1%}, commonest class "
                     f"{head['commonest_class']:.1%})")
    if generator.classes and params.evaluate.pictures:
        lines.append(f"evaluate: {out.pictures / CLASSES_PICTURE} shows a test clip predicted under each class")
    classifier = metrics.get("classifier")
    if classifier is not None:
        lines.append(f"evaluate: Inception Score and class accuracy through {classifier['classifier_file']} "
                     f"({classifier['patches']} moving patches at the last step, {classifier['classes']} classes, "
                     f"{classifier['splits']} parts)")
    if "classifier_refused" in metrics:
        lines.append(f"evaluate: {metrics['classifier_refused']}")
    model, last = step1["model"], step1["last_frame"]
    if model is not None and last is not None and model < last:
        lines.append(f"evaluate: the model is WORSE than copying the last frame by its {name} at step 1 "
                     f"({model - last:+.2f} dB)")
    return lines
