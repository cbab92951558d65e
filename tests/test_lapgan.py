"""LAPGAN (pyext.models.lapgan, pyext.training.steps.lapgan): the real pyramid each level trains
on against the native pyramid ops, sampling coarse to fine against laplacian_reconstruct, a step's
losses against values computed by hand from its networks, which weights each update moves, a run
resumed bit for bit, and its refusals. (Its one-line params refusals: tests/test_config.py; trained
and evaluated through the stage scripts: tests/test_generation_eval.py.)"""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from cases import assert_resumes_exactly, family_params

import pyext
from pyext.config import ParamsError
from pyext.models import NoiseGenerator
from pyext.models.base import draw_latents, seeded_generator
from pyext.models.lapgan import LAPGAN, CoarseGenerator, LevelDiscriminator, LevelGenerator, real_levels
from pyext.training import make_step
from pyext.training.steps.dcgan import frame_of_each

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _params(kind: str = "bce", **train_settings):
    return family_params("lapgan", dict(levels=3, latent=6, width=0.0625), kind, **train_settings)


def test_each_level_trains_on_the_real_laplacian_pyramid():
    images = torch.rand(2, 3, 32, 32, dtype=torch.float64) * 2 - 1
    levels = real_levels(images, 3)
    bands, gauss = pyext.laplacian_pyramid(images, 3), pyext.gaussian_pyramid(images, 3)
    assert [tuple(h.shape[-2:]) for h, _ in levels] == [(32, 32), (16, 16), (8, 8)]
    for k, (target, low_pass) in enumerate(levels):
        assert torch.equal(target, bands[k])  # the residual target: laplacian_pyramid's level
        if k < 2:  # the conditioning: the next-coarser real Gaussian level brought up a level
            assert torch.equal(low_pass, pyext.pyr_up(gauss[k + 1]))
            torch.testing.assert_close(target + low_pass, gauss[k], rtol=0, atol=1e-12)  # h_k + l_k = G_k
        else:  # the coarsest: the coarse image itself, given nothing
            assert low_pass is None and torch.equal(target, gauss[2])
    # Not a blur of the image: a residual has detail and about zero mean where a Gaussian level has the image's.
    assert float(levels[0][0].abs().mean()) > 0.1 and not torch.allclose(levels[0][0], gauss[0], atol=0.1)


def test_sampling_runs_coarse_to_fine_through_laplacian_reconstruct():
    torch.manual_seed(0)
    g = LAPGAN(size=32, levels=3, latent=5, width=0.0625).eval()
    assert isinstance(g, NoiseGenerator) and g.latent == 5 + 32 * 32 + 16 * 16
    assert [type(m) for m in g.generators] == [LevelGenerator, LevelGenerator, CoarseGenerator]
    z = torch.randn(3, g.latent, dtype=torch.float64)
    g.double()
    bands, image = g.generate(z)
    assert [tuple(b.shape) for b in bands] == [(3, 3, 32, 32), (3, 3, 16, 16), (3, 3, 8, 8)]
    torch.testing.assert_close(image, pyext.laplacian_reconstruct(bands), rtol=0, atol=1e-12)
    # Each level's noise, in the levels' order: a plane per finer level, then the coarsest's `latent` entries.
    planes = [z[:, :32 * 32].view(3, 1, 32, 32), z[:, 32 * 32:-5].view(3, 1, 16, 16)]
    torch.testing.assert_close(bands[2], g.generators[2](z[:, -5:]), rtol=0, atol=0)
    for k in (1, 0):  # each residual made from its noise plane and the coarser levels' reconstruction, upsampled
        coarser = pyext.laplacian_reconstruct(bands[k + 1:])
        torch.testing.assert_close(bands[k], g.generators[k](planes[k], pyext.pyr_up(coarser)), rtol=0, atol=1e-12)
    torch.testing.assert_close(g(z), image.clamp(-1, 1), rtol=0, atol=0)
    g.float()
    samples = g.sample(4, generator=seeded_generator([1]))
    assert samples.shape == (4, 3, 32, 32) and float(samples.abs().max()) <= 1
    torch.testing.assert_close(samples, g.sample(4, generator=seeded_generator([1])), rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"z must be \(B, 1285\), got \(3, 5\)"):
        g(torch.zeros(3, 5))


def test_a_level_discriminator_judges_the_residual_added_to_the_low_pass_image():
    d = LevelDiscriminator(16, 0.0625)
    h, low_pass = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    (logits,) = d([h], low_pass)
    assert logits.shape == (2, 1)
    torch.testing.assert_close(logits, d.net(h + low_pass), rtol=0, atol=0)  # the paper adds l_k before D's first layer
    assert not torch.equal(logits, d.net(h))
    with pytest.raises(ValueError, match="given the low-pass images"):
        d([h])


def test_the_steps_losses_are_each_levels_objective_on_the_real_pyramid():
    # bce (Goodfellow et al. 2014) by hand: L_D = sum over levels of mean softplus(-D(h_k | l_k)) +
    # mean softplus(D(h~_k | l_k)); L_G = sum of mean softplus(-D(h~_k | l_k)), h~_k = G_k(z_k, l_k),
    # from the networks as they were before each update and the step's own draws.
    params = _params()
    step = make_step(params, torch.device("cpu"))
    g0, d0 = copy.deepcopy(step.model), copy.deepcopy(step.D)
    clips = torch.rand(4, 5, 3, 32, 32) * 2 - 1
    logged = step.step(0, [clips])
    levels = real_levels(frame_of_each(clips, (3, 0, 0), 0, 4), 3)

    def fakes(batch):
        noise = g0.split(draw_latents((3, 0, batch), g0.latent, 4))
        return [g(z) if low is None else g(z, low) for g, z, (_, low) in zip(g0.generators, noise, levels)]

    with torch.no_grad():
        d_loss = sum(F.softplus(-d([h], low)[0]).mean() + F.softplus(d([f], low)[0]).mean()
                     for d, f, (h, low) in zip(d0, fakes(0), levels))
        d1 = copy.deepcopy(step.D)  # G's update is judged by the updated discriminators
        g_loss = sum(F.softplus(-d([f], low)[0]).mean() for d, f, (_, low) in zip(d1, fakes(1), levels))
    torch.testing.assert_close(logged["train/loss_d"], d_loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logged["train/loss_g"], g_loss, rtol=1e-5, atol=1e-6)
    assert 0 <= float(logged["train/d_accuracy"]) <= 1


@pytest.mark.parametrize("kind", ["bce", "wgan_gp"])
def test_every_level_trains_on_its_own(kind):
    step = make_step(_params(kind), torch.device("cpu"))
    assert isinstance(step.opt_g, torch.optim.Adam) and step.opt_g.param_groups[0]["lr"] == 2e-4
    state = {net: {k: v.clone() for k, v in step.state()[net].items()} for net in ("generator", "discriminator")}
    clips = torch.rand(4, 5, 3, 32, 32) * 2 - 1
    logged = step.step(0, [clips] * step.batches_per_step)
    assert all(bool(torch.isfinite(v)) for v in logged.values()) and not bool(step.nonfinite)
    for net, prefix in (("generator", "generators."), ("discriminator", "")):  # every level's G and D moved
        for level in range(3):
            weights = {k: v for k, v in state[net].items() if k.startswith(f"{prefix}{level}.")}
            assert weights and any(not torch.equal(v, step.state()[net][k]) for k, v in weights.items()), (net, level)
    # Levels trained independently: conditioned on the real pyramid, level k's loss reaches G_k alone
    # (conditioning on the generated coarser image would reach the coarser generators too).
    levels = real_levels(clips[:, 0], 3)
    fakes = step.fakes(step.model.split(torch.randn(4, step.model.latent)), levels)
    step.model.zero_grad(set_to_none=True)
    step.objective.generator_loss(step.D[0], [fakes[0]], levels[0][1])[0].backward()
    grads = [[p.grad for p in g.parameters()] for g in step.model.generators]
    assert all(g is not None and bool(g.abs().sum() > 0) for g in grads[0])
    assert all(g is None for level in grads[1:] for g in level)


@pytest.mark.parametrize("kind", ["bce", "wgan_gp"])
def test_resumed_lapgan_run_equals_uninterrupted(data_dir, tmp_path, kind):
    # Every level's D and G, their optimisers, and wgan_gp's mixing weights (torch's random state).
    assert_resumes_exactly(_params(kind, steps=2, checkpoint_every=1), data_dir, tmp_path)


def test_a_distributed_run_is_refused_in_one_line():
    with pytest.raises(ParamsError) as info:
        make_step(_params(), torch.device("cpu"), distributed=True, rank=0, world=2)
    assert str(info.value) == ("params.yaml: model.family: expected dcgan in a distributed run (LAPGAN's levels are "
                               "not wrapped for one yet), got 'lapgan'")
