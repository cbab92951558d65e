"""evaluate: the trained model on the test clips of data/test.h5, by its family's evaluation
(pyext.evaluation) -> eval/metrics.json, eval/predictions.h5, eval/plots/ and eval/pictures/. A
predictor against two baselines (last frame, optical flow): PSNR, SSIM, sharpness on moving regions
and whole frames, per recursive step. GAIA: reconstruction, code structure against PCA (fitted on
data/train.h5), interpolation realism. A generator from noise (dcgan, lapgan, vaegan): FID, KID, precision and recall
of its images against frames of moving test patches, beside the untrained generator and blurred and
noisy real frames. A translator (cyclegan, discogan, dualgan): both directions' FID/KID, cycle PSNR, a domain
classifier's verdict and the temporal warping error and flicker, beside the untranslated frames. The generator measured: the fine-tuning stage's
(models/finetune/generator.pt) where finetune.patch > 0, else the train stage's (models/generator.pt)."""
import time

import torch

from pyext.commands import run
from pyext.config import load_params
from pyext.evaluation import evaluate_model
from pyext.files import Layout
from pyext.models import evaluated_generator, load_generator

LAYOUT = Layout()


def main() -> None:
    # A fine-tuned generator's params: its patch size is what its discriminator (ACGAN's class
    # head) was trained on; the full-frame measures do not depend on it.
    params, path = evaluated_generator(load_params(), LAYOUT)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = load_generator(path, map_location=device)
    began = time.perf_counter()
    for line in evaluate_model(params, model, path, LAYOUT.data, LAYOUT.evaluation, device):
        print(line)
    print(f"evaluate: {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    run("evaluate", main, errors=(FileNotFoundError, ValueError), lock=LAYOUT.locked("evaluate"))
