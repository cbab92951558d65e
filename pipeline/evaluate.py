"""evaluate: the trained generator and two baselines (last frame, optical flow) on the full-frame
test clips of data/test.h5 -> eval/metrics.json (PSNR, SSIM, sharpness on moving regions and whole
frames, per recursive step), eval/predictions.h5, eval/plots/ (per step, per clip) and
eval/pictures/ (PNG grids and GIFs)."""
from pathlib import Path

import torch

from pipeline.stage import run
from pyext.config import ParamsError, load_params
from pyext.evaluate import evaluate
from pyext.models import load_predictor

DATA, MODELS, EVAL = Path("data"), Path("models"), Path("eval")


def main() -> None:
    params = load_params()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    generator = load_predictor(MODELS / "generator.pt", map_location=device)
    clip = params.clip
    if (generator.input_frames, generator.output_frames) != (clip.input_frames, clip.output_frames):
        raise ParamsError("params.yaml", "clip.input_frames",
                          f"{generator.input_frames} -> {generator.output_frames} frames, as {MODELS / 'generator.pt'} "
                          f"was trained, got {clip.input_frames} -> {clip.output_frames} (rerun train)")
    metrics = evaluate(params, generator, DATA / "test.h5", EVAL, device)
    step1 = {m: metrics[m]["step1"]["psnr"] for m in ("model", "last_frame", "optical_flow")}
    print(f"evaluate: {metrics['clips']} clips; moving-region PSNR at step 1: "
          + ", ".join(f"{m} {v}" for m, v in step1.items()) + f"; see {EVAL / 'metrics.json'}, {EVAL / 'pictures'}/")
    model, last = step1["model"], step1["last_frame"]
    if model is not None and last is not None and model < last:
        print(f"evaluate: the model is WORSE than copying the last frame on moving regions at step 1 "
              f"({model - last:+.2f} dB)")


if __name__ == "__main__":
    run("evaluate", main, errors=(FileNotFoundError, ValueError))
