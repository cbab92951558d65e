"""DCGAN (pyext.models.dcgan, pyext.training.steps.dcgan): the networks against the paper's
guidelines, the discriminator's norm under each objective, sampling, the frames drawn from the
training patches, a run resumed bit for bit, synchronised batch norm and a 2-process run against
one process. (``predict``'s refusal of a generator from noise: tests/test_predict.py.)"""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from cases import DEVICES, TEST_PARAMS, TINY_GENERATORS, assert_resumes_exactly, assert_same_weights, family_params
from torch import nn

from pyext.config import ParamsError, parse_params
from pyext.models import NoiseGenerator
from pyext.models.base import seeded_generator
from pyext.models.blocks import SplitBatchNorm2d, SyncSplitBatchNorm, set_batch_groups, synchronised
from pyext.models.dcgan import DCGAN, DCGANDiscriminator, discriminator_norm
from pyext.training import make_step
from pyext.training.steps.dcgan import frame_of_each

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _params(kind: str = "bce", batch_norm: bool = True, **train_settings):
    return family_params("dcgan", dict(latent=8, width=0.125, batch_norm=batch_norm), kind, **train_settings)


def _kinds(net: nn.Sequential) -> list[str]:
    return [type(layer).__name__ for layer in net]


@pytest.mark.parametrize("size,levels", [(32, 3), (64, 4)])
def test_the_generator_follows_the_guidelines(size, levels):
    g = DCGAN(size=size, latent=10, width=0.25)
    # Fractionally strided convolutions only (the first projects z to 4x4), batch norm and ReLU after
    # each but the output layer, which has tanh: no pooling, no fully connected layer, no upsampling.
    convs = [m for m in g.net if isinstance(m, nn.ConvTranspose2d)]
    assert _kinds(g.net) == [*["ConvTranspose2d", "BatchNorm2d", "ReLU"] * (len(convs) - 1), "ConvTranspose2d", "Tanh"]
    assert len(convs) == levels + 1  # 1x1 -> 4x4, then doubling the side up to size
    assert [c.stride for c in convs] == [(1, 1)] + [(2, 2)] * levels
    assert all(c.kernel_size == (4, 4) for c in convs)
    assert [c.out_channels for c in convs] == [16 << k for k in reversed(range(levels))] + [3]
    assert convs[-1].bias is not None and all(c.bias is None for c in convs[:-1])  # batch norm shifts instead
    # The paper's initialisation: N(0, 0.02) weights, batch norm's scales N(1, 0.02).
    weights = torch.cat([c.weight.detach().flatten() for c in convs])
    assert float(weights.mean()) == pytest.approx(0, abs=2e-3) and float(weights.std()) == pytest.approx(0.02, rel=0.05)
    scales = torch.cat([m.weight.detach() for m in g.net if isinstance(m, nn.BatchNorm2d)])
    assert float(scales.mean()) == pytest.approx(1, abs=0.01) and float(scales.std()) == pytest.approx(0.02, rel=0.3)
    images = g.eval().sample(5, generator=seeded_generator([1]))
    assert images.shape == (5, 3, size, size) and float(images.abs().max()) <= 1
    torch.testing.assert_close(images, g.sample(5, generator=seeded_generator([1])), rtol=0, atol=0)
    assert isinstance(g, NoiseGenerator) and g.latent == 10 and g.size == size


@pytest.mark.parametrize("size,levels", [(32, 3), (64, 4)])
def test_the_discriminator_follows_the_guidelines(size, levels):
    d = DCGANDiscriminator(size=size, width=0.25, norm="batch")
    convs = [m for m in d.net if isinstance(m, nn.Conv2d)]
    # Strided convolutions halving the side down to 4x4, LeakyReLU 0.2, batch norm after every one
    # but the input layer's, and a last convolution from 4x4 to one logit: no pooling, no sigmoid.
    assert _kinds(d.net) == ["Conv2d", "LeakyReLU", *["Conv2d", "SplitBatchNorm2d", "LeakyReLU"] * (levels - 1),
                             "Conv2d", "Flatten"]
    assert [c.stride for c in convs] == [(2, 2)] * levels + [(1, 1)]
    assert all(m.negative_slope == 0.2 for m in d.net if isinstance(m, nn.LeakyReLU))
    assert [c.out_channels for c in convs] == [16 << k for k in range(levels)] + [1]
    (logits,) = d([torch.rand(6, 3, size, size) * 2 - 1])
    assert logits.shape == (6, 1)
    with pytest.raises(ValueError, match="given nothing"):
        d([torch.zeros(2, 3, size, size)], torch.zeros(2, 4))


@pytest.mark.parametrize("kind,batch_norm,norm,layer", [
    ("bce", True, "batch", SplitBatchNorm2d), ("wgan", True, "batch", SplitBatchNorm2d),
    # WGAN-GP's penalty is per image: layer norm (Gulrajani et al. 2017), never batch norm.
    ("wgan_gp", True, "layer", nn.GroupNorm), ("wgan_gp", False, "none", None), ("bce", False, "none", None)])
def test_the_discriminators_norm_follows_the_objective(kind, batch_norm, norm, layer):
    params = _params(kind, batch_norm)
    assert discriminator_norm(params) == norm
    d = DCGANDiscriminator.from_params(params)
    norms = [m for m in d.net if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm))]
    assert (len(norms) == 2 and all(type(m) is layer for m in norms)) if layer else norms == []
    if layer is nn.GroupNorm:
        assert all(m.num_groups == 1 for m in norms)  # one group: each image's maps and positions together
    g = DCGAN.from_params(params)
    assert any(isinstance(m, nn.BatchNorm2d) for m in g.net) == batch_norm


def test_synchronised_batch_norm_keeps_weights_groups_and_what_one_process_computes():
    # A distributed run's batch norms (SyncBatchNorm; PyTorch synchronises on GPUs only): outside
    # one, the converted networks compute what the originals do, D's groups still apart.
    import copy

    torch.manual_seed(0)
    d, g = DCGANDiscriminator(size=32, width=0.125, norm="batch"), DCGAN(size=32, latent=8, width=0.125)
    set_batch_groups(d, 3)
    d2, g2 = synchronised(copy.deepcopy(d)), synchronised(copy.deepcopy(g))
    assert [type(m) for m in d2.net if "Norm" in type(m).__name__] == [SyncSplitBatchNorm] * 2
    assert all(m.group == 3 for m in d2.net if isinstance(m, SyncSplitBatchNorm))
    assert [type(m) for m in g2.net if "Norm" in type(m).__name__] == [nn.SyncBatchNorm] * 3
    x, z = torch.rand(6, 3, 32, 32) * 2 - 1, torch.randn(4, 8)
    torch.testing.assert_close(d2([x])[0], d([x])[0], rtol=0, atol=0)
    torch.testing.assert_close(g2(z), g(z), rtol=0, atol=0)
    assert_same_weights(d2.state_dict(), d.state_dict())  # the running statistics moved alike
    set_batch_groups(d2, None)  # one group of six: another answer, so the groups above were kept
    assert not torch.equal(d2([x])[0], d([x])[0])


def test_the_step_trains_with_the_papers_optimiser_and_the_objectives_losses():
    step = make_step(_params(), torch.device("cpu"))
    for opt in (step.opt_g, step.opt_d):
        assert isinstance(opt, torch.optim.Adam)
        assert opt.param_groups[0]["lr"] == 2e-4 and opt.param_groups[0]["betas"] == (0.5, 0.999)
    before = {k: v.clone() for k, v in step.state()["generator"].items()}
    d_before = {k: v.clone() for k, v in step.state()["discriminator"].items()}
    logged = step.step(0, [torch.rand(4, 5, 3, 32, 32) * 2 - 1])
    assert set(logged) == {"train/loss_d", "train/loss_g", "train/d_accuracy"}
    after = step.state()
    assert all(not torch.equal(before[k], after["generator"][k]) for k in before if k.endswith("weight"))
    assert any(not torch.equal(d_before[k], after["discriminator"][k]) for k in d_before)
    # WGAN-GP: five critic updates a step, each on a batch of its own.
    assert make_step(_params("wgan_gp"), torch.device("cpu")).batches_per_step == 5
    # The WGAN paper's RMSProp at its rates, from model.dcgan (not train.optimizer).
    p = _params("wgan")
    p = replace(p, model=replace(p.model, dcgan=replace(p.model.dcgan, optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5)))
    wgan = make_step(p, torch.device("cpu"))
    assert all(isinstance(o, torch.optim.RMSprop) and o.param_groups[0]["lr"] == 5e-5 for o in (wgan.opt_g, wgan.opt_d))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("family,kind", [("dcgan", "bce"), ("dcgan", "wgan_gp"), ("lapgan", "bce"), ("vaegan", "bce")])
def test_one_step_on_each_device_is_finite_and_moves_both_networks(device, family, kind):
    # Every family built on DCGAN's step (LAPGAN's, VAE-GAN's): bench/gpu_check.sh's tests step runs
    # the CUDA cases (bfloat16 autocast where the GPU has it).
    step = make_step(family_params(family, TINY_GENERATORS[family], kind, precision="auto"), torch.device(device))
    before = {net: {k: v.clone() for k, v in step.state()[net].items()} for net in ("generator", "discriminator")}
    logged = step.step(0, [torch.rand(4, 5, 3, 32, 32, device=device) * 2 - 1] * step.batches_per_step)
    assert all(bool(torch.isfinite(v)) for v in logged.values()) and not bool(step.nonfinite)
    for net, weights in before.items():
        assert any(not torch.equal(v, step.state()[net][k]) for k, v in weights.items()), net
    picture = step.pictures((torch.rand(4, 5, 3, 32, 32) * 2 - 1, None))["samples"]
    assert picture.dtype.name == "uint8" and picture.shape == (2 * (2 * 32 + 2), 4 * (2 * 32 + 2), 3)


def test_one_frame_of_each_patch_is_drawn_reproducibly_and_shared_out():
    clips = torch.arange(6 * 5, dtype=torch.float32).view(6, 5, 1, 1, 1).expand(6, 5, 3, 2, 2)
    frames = frame_of_each(clips, (0, 7, 0), 0, 6)
    picked = frames[:, 0, 0, 0] - torch.arange(6) * 5  # each row's frame index
    assert frames.shape == (6, 3, 2, 2) and bool(((picked >= 0) & (picked < 5)).all())
    torch.testing.assert_close(frames, frame_of_each(clips, (0, 7, 0), 0, 6))
    assert not torch.equal(frames, frame_of_each(clips, (0, 8, 0), 0, 6))  # another step, other frames
    # A process's share of the batch draws the whole batch's frames for its rows.
    torch.testing.assert_close(frame_of_each(clips[3:], (0, 7, 0), 3, 6), frames[3:])


@pytest.mark.parametrize("kind", ["bce", "wgan_gp"])
def test_resumed_dcgan_run_equals_uninterrupted(data_dir, tmp_path, kind):
    # wgan_gp draws its interpolation weights from torch's generator: the checkpoint's random state.
    params = _params(kind, steps=4 if kind == "bce" else 2, checkpoint_every=2 if kind == "bce" else 1)
    assert_resumes_exactly(params, data_dir, tmp_path)


@pytest.mark.parametrize("family,why", [("dcgan", "its networks' sizes"), ("lapgan", "its levels' sizes"),
                                        ("vaegan", "its networks' sizes")])
def test_a_generator_from_noise_refuses_a_starting_generator_in_one_line(family, why):
    # The default params start from the shipped predictor: `-S model.family=...` alone is refused so.
    import yaml

    raw = yaml.safe_load(TEST_PARAMS.read_text())
    raw["model"]["family"], raw["train"]["init"] = family, "pretrained"
    with pytest.raises(ParamsError, match=rf"^tests/params\.yaml: train\.init: expected '' with "
                                          rf"model\.family: {family} \({why} are fixed by clip\.patch\), got '.*'$"):
        parse_params(raw, "tests/params.yaml")


def test_a_distributed_cpu_run_with_batch_norm_is_refused_in_one_line():
    with pytest.raises(ParamsError) as info:  # refused before any process group is needed
        make_step(_params(), torch.device("cpu"), distributed=True, rank=0, world=2)
    assert str(info.value) == ("params.yaml: model.dcgan.batch_norm: expected false in a distributed run on CPUs "
                               "(PyTorch synchronises batch norm over processes on GPUs only), got True")


_DDP_SCRIPT = """
import sys
from dataclasses import replace

import torch
import torch.distributed as dist

from pyext.config import load_params
from pyext.training import make_step

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
torch.set_default_dtype(torch.float64)  # networks, latents and clips: the runs differ by sums' order alone
p = load_params(sys.argv[1])
for kind in ("bce", "wgan_gp"):
    params = replace(p, model=replace(p.model, family="dcgan",
                                      dcgan=replace(p.model.dcgan, latent=8, width=0.125, batch_norm=False)),
                     loss=replace(p.loss, adversarial=replace(p.loss.adversarial, kind=kind)),
                     train=replace(p.train, batch_size=4, seed=3, device="cpu", precision="float32",
                                   channels_last=False))
    torch.manual_seed(0)
    batches = [torch.rand(4, 5, 3, 32, 32) * 2 - 1 for _ in range(5 * 3)]
    step = make_step(params, torch.device("cpu"), distributed=True, rank=rank, world=world)
    per = step.batches_per_step
    for s in range(3):  # this process's rows of each batch
        step.step(s, [b[2 * rank:2 * rank + 2] for b in batches[s * per:(s + 1) * per]])
    if rank == 0:
        one = make_step(params, torch.device("cpu"))
        fresh = {net: {k: v.clone() for k, v in one.state()[net].items()} for net in ("generator", "discriminator")}
        for s in range(3):
            one.step(s, batches[s * per:(s + 1) * per])
        for net in ("generator", "discriminator"):
            mine, theirs = step.state()[net], one.state()[net]
            assert not all(torch.equal(v, mine[k]) for k, v in fresh[net].items()), "trained: the weights moved"
            for k in mine:
                torch.testing.assert_close(mine[k], theirs[k], rtol=0, atol=1e-5,
                                           msg=lambda m: f"{kind} {net} {k}: {m}")
        print(kind, "matches one process")
"""


def test_a_two_process_run_matches_one_process(tmp_path):
    # Latents, frames and WGAN-GP's mixing weights are drawn for the whole batch and shared out, and
    # the gradients averaged: 2 processes on half batches train the weights one process does on the
    # whole (float64, 3 steps; batch_norm off: PyTorch synchronises batch norm on GPUs only).
    from cases import two_processes

    done = two_processes(_DDP_SCRIPT, tmp_path, 29531)
    assert done.stdout.splitlines() == ["bce matches one process", "wgan_gp matches one process"]
