"""IcGAN (pyext.models.icgan, pyext.losses.icgan, pyext.training.steps.icgan, the inversion of
pyext.evaluation.editing): the encoders' losses by hand, which networks each phase trains (the cGAN's
G and D before model.icgan.encoder_from; from it the encoders alone, E_z on G's images without a
gradient to G, E_y on the real frames), reconstructions and edits from one code, a run resumed bit
for bit across the phase switch, the refusal of a distributed run, and the pipeline trained and
evaluated end to end on the stochastic set (the inversion's measures against values by hand,
edits.png). (The params' refusals: tests/test_config.py.)"""
from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cases import TINY_ICGAN, assert_resumes_exactly, icgan_params, labelled_data

from pyext.config import ParamsError
from pyext.data.dataset import to_model, to_uint8
from pyext.evaluation.editing import invert
from pyext.evaluation.generation import untrained
from pyext.losses.icgan import class_loss, latent_loss
from pyext.models.base import draw_classes, draw_latents
from pyext.models.icgan import ICGAN
from pyext.training import make_step
from pyext.training.steps.dcgan import frame_of_each

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LABELS = torch.tensor([2, 0, 1, 2])  # the batch's classes (of three)
FROM = TINY_ICGAN["encoder_from"]


def _step():
    step = make_step(icgan_params(), torch.device("cpu"), classes=3)
    return step, [torch.rand(4, 5, 3, 32, 32) * 2 - 1], [LABELS]


def _weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers (batch norms' running statistics), copied."""
    return {k: v.clone() for k, v in module.state_dict().items()}


def _moved(before: dict[str, torch.Tensor], module: torch.nn.Module) -> bool:
    return any(not torch.equal(v, module.state_dict()[k]) for k, v in before.items())


def _moments(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """An optimiser's state (Adam's step counts and moments), copied."""
    return [v.clone() for state in optimizer.state_dict()["state"].values() for v in state.values()]


def test_the_encoders_losses_by_hand():
    z, recovered = torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.0, 3.0]]), torch.tensor([[0.0, 0.0, 0.5], [1.0, 1.0, 1.0]])
    # ((1 + 4 + 0) + (1 + 1 + 4)) / 2: squared errors summed over z, averaged over the batch
    assert latent_loss(z, recovered).item() == pytest.approx(5.5)
    logits, labels = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 3.0]]), torch.tensor([0, 1])
    by_hand = (-(2 - np.log(np.exp(2) + 2)) - (1 - np.log(1 + np.e + np.exp(3)))) / 2
    assert class_loss(logits, labels).item() == pytest.approx(by_hand, rel=1e-6)
    with pytest.raises(ValueError, match="one shape"):
        latent_loss(z, recovered[:, :2])


def test_the_model_is_the_cgans_generator_with_both_encoders_and_rebuilds_from_their_reading():
    step, _, _ = _step()
    model = step.model.eval()
    assert model.config() == {"size": 32, "latent": 8, "width": 0.125, "batch_norm": True, "classes": 3,
                              "embedding": step.condition.generator["embedding"]}
    assert model.classes == 3 and model.truncatable and model.encoder_z[-2].out_channels == 8
    assert model.encoder_y[-2].out_channels == 3  # DCGAN's discriminator layout, the class logits out
    x, z = torch.rand(5, 3, 32, 32) * 2 - 1, torch.randn(5, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(z, LABELS.repeat(2)[:5]), model.generator(z, LABELS.repeat(2)[:5]))
        codes, classes = model.invert(x)
        torch.testing.assert_close(codes, model.encoder_z(x))
        assert torch.equal(classes, model.encoder_y(x).argmax(1))
        torch.testing.assert_close(model.reconstruct(x), model.generator(codes, classes))
    # The evaluation's untrained generator is the step's at update 0 (G built first from train.seed).
    fresh = untrained(model, 3)
    assert all(torch.equal(v, fresh.state_dict()[k]) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="class-conditioned: embedding must be an int >= 1"):
        ICGAN(classes=3, embedding=0)


def test_the_gan_phase_trains_g_and_d_and_leaves_the_encoders():
    step, batches, labels = _step()
    encoders = {name: _weights(getattr(step.model, name)) for name in ("encoder_z", "encoder_y")}
    g, d = _weights(step.model.generator), _weights(step.D)
    logged = step.step(FROM - 1, batches, labels)
    assert set(logged) == {"train/loss_d", "train/loss_g", "train/d_accuracy"}
    assert _moved(g, step.model.generator) and _moved(d, step.D)
    assert not any(_moved(before, getattr(step.model, name)) for name, before in encoders.items())
    assert not step.opt_e.state_dict()["state"]  # the encoders' optimiser has not stepped
    # G's optimiser holds G alone.
    held = sum(len(group["params"]) for group in step.opt_g.param_groups)
    assert held == len(list(step.model.generator.parameters()))


def test_the_encoder_phase_freezes_the_gan_and_trains_each_encoder_on_its_own_images():
    step, batches, labels = _step()
    step.step(0, batches, labels)  # a GAN update first: the optimisers have states to keep
    g, d, moments = _weights(step.model.generator), _weights(step.D), _moments(step.opt_g) + _moments(step.opt_d)
    step.model.generator.zero_grad(set_to_none=True)
    step.D.zero_grad(set_to_none=True)
    encoders = {name: _weights(getattr(step.model, name)) for name in ("encoder_z", "encoder_y")}
    # By hand, with the step's networks before its update: E_z on G's images (G in eval mode) of the batch's
    # latents and uniform classes, E_y on one frame of each real clip of its class.
    z, asked = draw_latents((3, FROM, 0), 8, 4), draw_classes((3, FROM, 0), 3, 4)
    real = frame_of_each(batches[0], (3, FROM, 0), 0, 4)
    step.model.generator.eval()
    with torch.no_grad():
        fake = step.model.generator(z, asked)
    ez, ey = latent_loss(z, step.model.encoder_z(fake)), F.cross_entropy(step.model.encoder_y(real), LABELS)
    wanted = {"encoder_z": torch.autograd.grad(ez, list(step.model.encoder_z.parameters())),
              "encoder_y": torch.autograd.grad(ey, list(step.model.encoder_y.parameters()))}
    step.model.generator.train()  # as the loop's pictures leave it: the step sets eval mode itself
    step.opt_e.step = lambda *a, **k: None  # the gradients the update took, read before any weight moves
    logged = step.step(FROM, batches, labels)
    assert logged["train/loss_ez"].item() == pytest.approx(ez.item(), rel=1e-6)
    assert logged["train/loss_ey"].item() == pytest.approx(ey.item(), rel=1e-6)
    for name, grads in wanted.items():  # each encoder's gradient is its own loss's, of its own images
        for p, g_hand in zip(getattr(step.model, name).parameters(), grads):
            torch.testing.assert_close(p.grad, g_hand, rtol=1e-5, atol=1e-7)
    # The GAN is frozen: no gradient reaches G or D, their weights, statistics and optimisers stay.
    assert all(p.grad is None for p in [*step.model.generator.parameters(), *step.D.parameters()])
    del step.opt_e.step
    step.step(FROM + 1, batches, labels)
    assert not _moved(g, step.model.generator) and not _moved(d, step.D)
    assert all(torch.equal(a, b) for a, b in zip(moments, _moments(step.opt_g) + _moments(step.opt_d)))
    assert all(_moved(before, getattr(step.model, name)) for name, before in encoders.items())
    assert step.d_measures == ["loss_ez", "loss_ey", "ey_accuracy"]
    with pytest.raises(ValueError, match="labels are needed"):
        step.step(FROM, batches)


def test_editing_keeps_each_images_code_and_changes_its_class_alone():
    step, _, _ = _step()
    model = step.model.eval()
    with torch.no_grad():  # at DCGAN's N(0, 0.02) the untrained G draws grey whatever the class
        for weight in model.generator.parameters():
            torch.nn.init.normal_(weight, 0.0, 0.3)
    real = (np.random.default_rng(0).random((5, 32, 32, 3)) * 255).astype(np.uint8)
    inverted = invert(model, real, torch.device("cpu"))
    x = to_model(real)
    with torch.no_grad():
        codes, classes = model.encoder_z(x), model.encoder_y(x).argmax(1)
        assert torch.equal(inverted.codes, codes) and torch.equal(inverted.classes, classes)
        assert np.array_equal(inverted.rebuilt, to_uint8(model.generator(codes, classes)))
        for c in range(3):  # every class's edit: the same codes E_z(x), the class c alone
            assert np.array_equal(inverted.edits[c], to_uint8(model.generator(codes, torch.full((5,), c))))
    assert inverted.edits.shape == (3, 5, 32, 32, 3) and not np.array_equal(inverted.edits[0], inverted.edits[1])
    images, asked = inverted.classified()["edits"]
    assert images.shape == (15, 32, 32, 3) and asked.tolist() == [0] * 5 + [1] * 5 + [2] * 5


def test_a_resumed_run_equals_uninterrupted_across_the_phase_switch(tmp_path):
    # Stopped at update 2 in the cGAN's phase, resumed through the switch at 3 to the encoders' last update.
    params = icgan_params(knobs={"encoder_from": 3})
    assert_resumes_exactly(params, labelled_data(tmp_path / "data"), tmp_path / "runs", classes=3,
                           optimizers=("opt_g", "opt_d", "opt_e"))


def test_a_distributed_run_is_refused_in_one_line():
    with pytest.raises(ParamsError) as info:
        make_step(icgan_params(), torch.device("cpu"), distributed=True, rank=0, world=2, classes=3)
    assert str(info.value) == ("params.yaml: model.family: expected dcgan in a distributed run (IcGAN's encoders are "
                               "not wrapped for one yet), got 'icgan'")


def test_the_pipeline_trains_both_phases_and_evaluates_the_inversion(tmp_path):
    from cases import run_in, set_params, tiny_pipeline
    from PIL import Image
    from torch import nn

    from pyext.config import load_params
    from pyext.evaluation.generation import GRID, real_images
    from pyext.evaluation.metrics import ssim
    from pyext.models import load_noise_generator

    class Brightness(nn.Module):
        """A classifier of patches (N, 3, S, S) in [0, 1] into three classes by their mean brightness."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            mean = x.mean((1, 2, 3))
            return -(mean[:, None] - torch.tensor([0.2, 0.5, 0.8])).abs() * 10.0

    classifier = tmp_path / "brightness.pt"
    with warnings.catch_warnings():  # torch deprecates TorchScript, the format evaluate.classifier reads
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(Brightness()).save(str(classifier))
    work = tiny_pipeline(tmp_path)
    knobs = {f"model__icgan__{k}": v for k, v in TINY_ICGAN.items()}
    set_params(work, data__source="stochastic", stochastic__classes=3, stochastic__groups=3, stochastic__test_groups=1,
               stochastic__clips_per_group=1, stochastic__frames=12, model__family="icgan", model__condition="concat",
               **knobs, train__init="", train__batch_size=4, evaluate__patches=40, filter__min_motion=1.0,
               evaluate__features="", evaluate__classifier=str(classifier), evaluate__truncation=[])
    for stage in ("prepare", "extract", "filter", "train", "evaluate"):
        done = run_in([sys.executable, "-m", f"pipeline.{stage}"], work)
    losses = {name: (work / "dvclive" / "plots" / "metrics" / "train" / f"{name}.tsv").read_text().splitlines()
              for name in ("loss_g", "loss_ez")}
    assert [row.split("\t")[0] for row in losses["loss_g"][1:]] == ["1", "2"]  # the cGAN's updates 0 and 1 ...
    assert [row.split("\t")[0] for row in losses["loss_ez"][1:]] == ["3", "4"]  # ... then the encoders'
    metrics = json.loads((work / "eval" / "metrics.json").read_text())
    inversion, n = metrics["inversion"], metrics["samples"]
    # By hand from the saved model: each real test frame read, rebuilt and edited to every class.
    model = load_noise_generator(work / "models" / "generator.pt")
    params = load_params(work / "params.yaml")
    real, labels = real_images(work / "data" / "test.h5", params)
    with torch.no_grad():
        x = to_model(real)
        codes, classes = model.encoder_z(x), model.encoder_y(x).argmax(1)
        rebuilt = to_uint8(model.generator(codes, classes))
        edits = [to_uint8(model.generator(codes, torch.full((n,), c))) for c in range(3)]
    errors = ((rebuilt.astype(np.float64) - real) ** 2).reshape(n, -1).mean(1)
    assert inversion["reconstruction"]["psnr"] == pytest.approx(np.mean(10 * np.log10(255 ** 2 / errors)), abs=1e-4)
    assert inversion["reconstruction"]["ssim"] == pytest.approx(np.mean([ssim(a, b) for a, b in zip(rebuilt, real)]),
                                                                abs=1e-4)
    assert inversion["class_encoder_accuracy"] == pytest.approx((classes.numpy() == labels).mean(), abs=1e-4)
    logits = Brightness()(torch.from_numpy(np.concatenate(edits)).permute(0, 3, 1, 2).double() / 255).numpy()
    asked = np.repeat(np.arange(3), n)
    assert inversion["edits"] == {"classes": 3, "images": 3 * n,
                                  "accuracy": pytest.approx((logits.argmax(1) == asked).mean(), abs=1e-4)}
    assert any(line.startswith(f"evaluate: inversion of {n} real images: reconstructions ") for line in
               done.stdout.splitlines())
    # Columns of real frames: the frames, their reconstructions, an edit per class.
    picture = np.asarray(Image.open(work / "eval" / "pictures" / "edits.png"))
    assert picture.shape == ((2 + 3) * (2 * 32 + 2), min(GRID, n) * (2 * 32 + 2), 3)
    assert sorted(p.name for p in (work / "eval" / "pictures").iterdir()) == [
        "classes.png", "edits.png", "real.png", "reconstructions.png", "samples.png", "untrained.png"]
    assert sorted(p.name for p in (work / "dvclive" / "plots" / "images").iterdir()) == ["reconstructions", "samples"]
    assert model.sample(2, labels=torch.tensor([0, 2])).shape == (2, 3, 32, 32)  # what `beyondmse sample` draws
