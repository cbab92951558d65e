"""What the evaluation of a generator from noise adds for one that inverts (IcGAN's,
:meth:`pyext.models.NoiseGenerator.invert`; :mod:`.generation` calls it as it calls ``reconstruct``
and ``canvases``): each real image ``x`` rebuilt, ``G(E_z(x), E_y(x))``, and edited,
``G(E_z(x), y')`` for every class ``y'`` (Perarnau et al. 2016, section 3.3), measured as:

- ``reconstruction``: the mean over the images of the PSNR and the SSIM of each rebuilt image against
  its real one (uint8, :func:`~.metrics.psnr`, :func:`~.metrics.ssim`: the paper's video measures);
- ``class_encoder_accuracy``: the share of real images whose class ``E_y`` reads is their own (the
  test patches' labels);
- ``edits``: the share of the edited images a classifier (``evaluate.classifier``) assigns to the
  class asked for, or why none is measured.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.dataset import to_model
from ..models import NoiseGenerator
from .metrics import psnr, ssim
from .samples import BATCH, generated


@dataclass
class Inverted:
    """Real images read and rebuilt by a generator that inverts: each one's code ``(N, latent)`` and
    class ``(N,)`` (on the CPU), its rebuilt image uint8 ``(N, S, S, 3)`` and one edit per class
    ``(classes, N, S, S, 3)`` (edit ``c`` of image ``i``: its code, class ``c``)."""

    codes: torch.Tensor
    classes: torch.Tensor
    rebuilt: np.ndarray
    edits: np.ndarray

    def classified(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The edits as the classifier reads them: ``edits`` -> (every edit ``(classes * N, S, S, 3)``,
        the class asked of each)."""
        classes, n = self.edits.shape[:2]
        return {"edits": (self.edits.reshape(classes * n, *self.edits.shape[2:]), np.repeat(np.arange(classes), n))}


@torch.no_grad()
def invert(model: NoiseGenerator, real: np.ndarray, device: torch.device) -> Inverted | None:
    """``model``'s reading of uint8 images ``real`` ``(N, S, S, 3)`` (:data:`~.samples.BATCH` at a
    time, in its current mode), rebuilt and edited from it; None where the model does not invert."""
    x = to_model(real)
    parts = [model.invert(x[i:i + BATCH].to(device)) for i in range(0, len(x), BATCH)]
    if parts[0] is None:
        return None
    codes, classes = (torch.cat([part[k].cpu() for part in parts]) for k in (0, 1))
    edits = np.stack([generated(model, codes, torch.full_like(classes, c)) for c in range(model.classes)])
    return Inverted(codes, classes, generated(model, codes, classes), edits)


def inversion_metrics(inverted: Inverted, real: np.ndarray, labels: np.ndarray, measured: dict) -> dict:
    """metrics.json's ``inversion`` (the module docstring) of ``inverted`` real images ``real`` of
    classes ``labels`` ``(N,)``; the edits' class accuracy is taken out of ``measured``'s (the
    measures of :func:`~.generation.measure`, given :meth:`Inverted.classified`), or why there is none."""
    accuracy = measured.get("class_accuracy", {}).pop("edits", None)
    if accuracy is not None:
        edits = {"accuracy": accuracy}
    else:
        edits = {"accuracy_refused": measured.get("classifier_refused", "evaluate.classifier is '': no classifier "
                                                                        "reads the edits' classes")}
    classes, n = inverted.edits.shape[:2]
    return {"images": n, "rebuilt": "G(E_z(x), E_y(x)) of each real image x",
            "edited": "G(E_z(x), y') for every class y'",
            "reconstruction": {"psnr": round(float(np.mean([psnr(a, b) for a, b in zip(inverted.rebuilt, real)])), 4),
                               "ssim": round(float(np.mean([ssim(a, b) for a, b in zip(inverted.rebuilt, real)])), 4)},
            "class_encoder_accuracy": round(float((inverted.classes.numpy() == labels).mean()), 4),
            "edits": {"classes": classes, "images": classes * n, **edits}}


def inversion_line(inversion: dict) -> str:
    """What the evaluation says of ``inversion`` (:func:`inversion_metrics`), one line."""
    rebuilt, edits = inversion["reconstruction"], inversion["edits"]
    said = (f"edits' class accuracy {edits['accuracy']:.3f}" if "accuracy" in edits else
            "no edits' class accuracy (no classifier)")
    return (f"evaluate: inversion of {inversion['images']} real images: reconstructions {rebuilt['psnr']:.2f} dB PSNR, "
            f"SSIM {rebuilt['ssim']:.3f}; E_y's class accuracy {inversion['class_encoder_accuracy']:.3f}; {said}")


def edit_rows(inverted: Inverted, real: np.ndarray, columns: int) -> np.ndarray:
    """The rows of ``edits.png``, uint8 ``(2 + classes, columns, S, S, 3)``: ``columns`` real images,
    their reconstructions, then their edit to each class."""
    return np.stack([real[:columns], inverted.rebuilt[:columns], *(edit[:columns] for edit in inverted.edits)])


__all__ = ["Inverted", "edit_rows", "inversion_line", "inversion_metrics", "invert"]
