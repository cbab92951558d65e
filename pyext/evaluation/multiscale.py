"""The predictors' evaluation (the paper's section 4: :func:`pyext.evaluate.evaluate`) for the
``multiscale`` family."""
from __future__ import annotations

from pathlib import Path

import torch

from ..config import Params, ParamsError
from ..evaluate import evaluate
from ..models import Predictor
from .base import register_evaluation


@register_evaluation("multiscale")
def evaluate_predictor(params: Params, generator: Predictor, source: Path, data_dir: Path, out_dir: Path,
                       device: torch.device, progress: bool = True) -> list[str]:
    """The predictor against copying the last frame and extrapolating the optical flow on the
    full-frame test clips; the lines say where the numbers are and when the model is worse."""
    clip = params.clip
    if (generator.input_frames, generator.output_frames) != (clip.input_frames, clip.output_frames):
        raise ParamsError("params.yaml", "clip.input_frames",
                          f"{generator.input_frames} -> {generator.output_frames} frames, as {source} "
                          f"was trained, got {clip.input_frames} -> {clip.output_frames} (rerun train)")
    metrics = evaluate(params, generator, data_dir / "test.h5", out_dir, device, progress)
    step1 = {m: metrics[m]["step1"]["psnr"] for m in ("model", "last_frame", "optical_flow")}
    lines = [f"evaluate: {metrics['clips']} clips; moving-region PSNR at step 1: "
             + ", ".join(f"{m} {v}" for m, v in step1.items())
             + f"; see {out_dir / 'metrics.json'}, {out_dir / 'pictures'}/"]
    extractor = metrics.get("feature_extractor")
    if extractor is not None:
        refused = extractor.get("fid_refused")
        line = (f"evaluate: {'KID' if refused else 'KID and FID'} through {extractor['extractor_file']} "
                f"({extractor['frames']} frames a step, {extractor['dimension']} features)")
        lines.append(line + (f"; FID not computed: {refused}" if refused else ""))
    model, last = step1["model"], step1["last_frame"]
    if model is not None and last is not None and model < last:
        lines.append(f"evaluate: the model is WORSE than copying the last frame on moving regions at step 1 "
                     f"({model - last:+.2f} dB)")
    return lines
