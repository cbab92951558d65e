"""pyext.evaluation.probe: a fresh discriminator trained against a frozen generator tells a
generator that paints grey from real futures, and cannot tell one whose predictions are the real
futures (exactly chance); the evaluate stage reports it where evaluate.probe_steps asks."""
import numpy as np
import pytest
import torch
from cases import moving_squares, write_clips

from pyext.evaluation.probe import probe_accuracy
from pyext.models import MultiScaleGenerator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _generator(skip: str) -> MultiScaleGenerator:
    """A generator whose every scale's last convolution is zero: with skip=last_frame it predicts
    the last input frame exactly, with skip=none a grey frame (tanh(0) = 0)."""
    torch.manual_seed(0)
    g = MultiScaleGenerator(4, 1, scales=2, width=0.05, skip=skip)
    for net in g.nets:
        torch.nn.init.zeros_(net[-1].weight)
        torch.nn.init.zeros_(net[-1].bias)
    return g


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Clips whose future is their last input frame again (the square stops), train and held out."""
    root = tmp_path_factory.mktemp("probe")
    for name, seed in (("train.h5", 0), ("val.h5", 1)):
        clips = moving_squares(48, 5, seed)
        clips[:, 4] = clips[:, 3]
        write_clips(root / name, clips)
    return root


def test_a_generator_that_paints_grey_is_told_apart(stores):
    result = probe_accuracy(_generator("none"), 32, 0.0, stores / "train.h5", stores / "val.h5", 40,
                            torch.device("cpu"))
    assert result["steps"] == 40 and result["clips"] == 48
    assert result["accuracy"] > 0.9 and len(result["accuracy_per_scale"]) == 2


def test_predictions_that_are_the_real_futures_are_exactly_chance(stores):
    result = probe_accuracy(_generator("last_frame"), 32, 0.0, stores / "train.h5", stores / "val.h5", 10,
                            torch.device("cpu"))
    # The same clips judged twice: the real and the generated verdicts are opposite, whatever D learnt.
    assert result["accuracy"] == 0.5 and result["real_accuracy"] + result["generated_accuracy"] == pytest.approx(1.0)
    assert result["accuracy_per_scale"] == [0.5, 0.5]
