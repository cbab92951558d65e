"""DCGAN (pyext.models.dcgan, pyext.training.steps.dcgan): the networks against the paper's
guidelines, the discriminator's norm under each objective, sampling, the frames drawn from the
training patches, a run resumed bit for bit, synchronised batch norm and a 2-process run against
one process; class conditioning (cGAN's class input of G and D, ACGAN's head and class terms against
cross-entropies by hand, the classes asked of G, a conditioned run resumed bit for bit). (``predict``'s
refusal of a generator from noise: tests/test_predict.py; the refusal of a condition on a source whose
classes one frame does not show: tests/test_config.py.)"""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from cases import (DEVICES, TEST_PARAMS, TINY_GENERATORS, TINY_INVERSION, TINY_TRANSLATORS, assert_resumes_exactly,
                   assert_same_weights, family_params, icgan_params, labelled_data, translator_params)
from torch import nn

from pyext.config import ParamsError, parse_params
from pyext.losses import make_objective
from pyext.models import NoiseGenerator
from pyext.models.base import draw_classes, draw_latents, seeded_generator
from pyext.models.blocks import SplitBatchNorm2d, SyncSplitBatchNorm, set_batch_groups, synchronised
from pyext.models.dcgan import DCGAN, DCGANDiscriminator, discriminator_norm
from pyext.training import make_step
from pyext.training.steps.dcgan import frame_of_each
from test_conditioning import _ce

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
@pytest.mark.parametrize("family,kind", [("dcgan", "bce"), ("dcgan", "wgan_gp"), ("lapgan", "bce"), ("vaegan", "bce"),
                                         ("biggan", "hinge"), ("gran", "bce"), ("icgan", "bce"),
                                         ("inversion", "bce")])
def test_one_step_on_each_device_is_finite_and_moves_both_networks(device, family, kind):
    # Every family built on DCGAN's step (LAPGAN's, VAE-GAN's, BigGAN's, GRAN's, IcGAN's: its cGAN's step, then its
    # encoders' at TINY_ICGAN's encoder_from; the inversion's): bench/gpu_check.sh's tests step runs the CUDA cases (bfloat16
    # autocast where the GPU has it).
    if family == "icgan":  # class-conditioned: three classes
        params, classes, labels = icgan_params(kind, precision="auto"), 3, [torch.tensor([2, 0, 1, 2], device=device)]
    else:
        knobs = TINY_GENERATORS.get(family, TINY_INVERSION)  # the inversion: the shipped inverted.pt's layers
        params, classes, labels = family_params(family, knobs, kind, precision="auto"), 0, None
    step = make_step(params, torch.device(device), classes=classes)
    before = {net: {k: v.clone() for k, v in step.state()[net].items()} for net in ("generator", "discriminator")}
    batches = [torch.rand(4, 5, 3, 32, 32, device=device) * 2 - 1] * step.batches_per_step
    logged = step.step(0, batches, labels and labels * step.batches_per_step)
    if family == "icgan":
        logged |= step.step(params.model.icgan.encoder_from, batches, labels * step.batches_per_step)
    assert all(bool(torch.isfinite(v)) for v in logged.values()) and not bool(step.nonfinite)
    for net, weights in before.items():
        assert any(not torch.equal(v, step.state()[net][k]) for k, v in weights.items()), net
    picture = next(iter(step.pictures((torch.rand(4, 5, 3, 32, 32) * 2 - 1, None)).values()))  # samples, inversions
    assert picture.dtype.name == "uint8" and picture.shape == (2 * (2 * 32 + 2), 4 * (2 * 32 + 2), 3)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("family", list(TINY_TRANSLATORS))
def test_one_translation_step_on_each_device_is_finite_and_moves_every_network(device, family):
    # The translators (CycleGAN's, DiscoGAN's, DualGAN's step, each under its paper's objective), on batches of
    # each domain's clips: bench/gpu_check.sh's tests step runs the CUDA cases (bfloat16 autocast where the GPU has it).
    step = make_step(translator_params(family, precision="auto"), torch.device(device))
    networks = {"generator": step.model, "discriminator_a": step.D_a, "discriminator_b": step.D_b}
    before = {name: [w.detach().clone() for w in net.parameters()] for name, net in networks.items()}
    batches = [torch.rand(8, 5, 3, 32, 32, device=device) * 2 - 1] * step.batches_per_step  # A's 4 clips, then B's
    logged = step.step(0, batches)
    assert all(bool(torch.isfinite(v)) for v in logged.values()) and not bool(step.nonfinite)
    for name, net in networks.items():
        assert any(not torch.equal(v, w) for v, w in zip(before[name], net.parameters())), name
    picture = step.pictures((torch.rand(8, 5, 3, 32, 32) * 2 - 1, torch.arange(8) // 4))["translations"]
    assert picture.dtype.name == "uint8" and picture.shape == (6 * (2 * 32 + 2), 4 * (2 * 32 + 2), 3)


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


# ---------------------------------------------------------------- class conditioning (cGAN, ACGAN)


def _conditioned(condition: str, kind: str = "bce", batch_norm: bool = True, **loss):
    """The tiny DCGAN of :func:`_params` conditioned by ``condition`` on the stochastic set (the
    source whose classes one frame shows), with ``loss``'s class keys replaced."""
    p = _params(kind, batch_norm)
    return replace(p, data=replace(p.data, source="stochastic"), model=replace(p.model, condition=condition),
                   loss=replace(p.loss, **loss))


def test_a_conditioned_dcgan_is_valid_on_the_stochastic_source():
    import yaml

    raw = yaml.safe_load(TEST_PARAMS.read_text())
    raw["model"].update(family="dcgan", condition="acgan")
    raw["data"]["source"] = "stochastic"
    assert parse_params(raw, "tests/params.yaml").model.condition == "acgan"


def _randomised(embedding: nn.Module) -> None:
    # ClassChannels starts at zero (class-blind, as the predictor's); a trained one is not.
    nn.init.normal_(embedding.embed.weight)


def test_the_cgan_generators_image_depends_on_its_class_alone():
    g = DCGAN(size=32, latent=8, width=0.125, classes=3, embedding=4).eval()
    z = torch.randn(2, 8)
    same = g(z, torch.tensor([0, 0]))
    torch.testing.assert_close(g(z, torch.tensor([2, 1])), same, rtol=0, atol=0)  # a zero embedding at the start
    _randomised(g.class_input)
    a, b = g(z, torch.tensor([0, 0])), g(z, torch.tensor([0, 2]))
    torch.testing.assert_close(a[0], b[0], rtol=0, atol=0)  # the first image's class unchanged: its image too
    assert (a[1] - b[1]).abs().max() > 1e-4  # only the second image's class changed
    assert g.config() == {"size": 32, "latent": 8, "width": 0.125, "batch_norm": True, "classes": 3, "embedding": 4}
    # Sampling: the classes asked for, or one clear error.
    x = g.sample(2, torch.tensor([1, 2]), generator=seeded_generator([4]))
    torch.testing.assert_close(x, g(torch.randn(2, 8, generator=seeded_generator([4])), torch.tensor([1, 2])))
    with pytest.raises(ValueError, match=r"^a class-conditioned DCGAN generator \(3 classes\) needs the class of each "
                                         r"image: labels \(2,\)$"):
        g.sample(2, generator=seeded_generator([4]))
    with pytest.raises(ValueError, match="without classes takes no class labels"):
        DCGAN(size=32, latent=8, width=0.125)(z, torch.tensor([0, 1]))


def test_the_cgan_discriminators_answer_depends_on_the_class_and_the_acgan_heads_does_not_take_one():
    d = DCGANDiscriminator(size=32, width=0.125, norm="none", classes=3, embedding=4)
    assert d.net[0].in_channels == 3 + 4  # the embedding over the image: extra input channels
    _randomised(d.class_input)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    a, b = d([x], None, torch.tensor([1, 1]))[0], d([x], None, torch.tensor([1, 0]))[0]
    assert a.shape == (2, 1) and a[0] == b[0] and (a[1] - b[1]).abs() > 1e-6
    with pytest.raises(ValueError, match=r"labels must be 2 class indices \(a network of 3 classes\), got NoneType"):
        d([x])
    head = DCGANDiscriminator(size=32, width=0.125, norm="none", classes=3, class_head=True)
    assert head.net[0].in_channels == 3 and head([x])[0].shape == (2, 1 + 3)  # the logit, then 3 class logits
    with pytest.raises(ValueError, match="without a class input takes no class labels"):
        head([x], None, torch.tensor([0, 1]))


@pytest.mark.parametrize("condition", ["concat", "acgan"])
def test_the_step_asks_for_uniform_reproducible_classes_and_needs_the_real_ones(condition):
    step = make_step(_conditioned(condition), torch.device("cpu"), classes=3)
    assert step.model.classes == 3 and isinstance(step.model.class_input.embed, nn.Embedding)
    drawn = step._classes(5, 1)
    assert drawn.dtype == torch.int64 and drawn.shape == (4,) and bool(((drawn >= 0) & (drawn < 3)).all())
    torch.testing.assert_close(drawn, step._classes(5, 1), rtol=0, atol=0)  # a function of (seed, step, batch)
    many = torch.cat([step._classes(s, 0) for s in range(300)])
    assert torch.bincount(many, minlength=3).min() > 300 * 4 / 3 * 0.8  # every class, about equally often
    with pytest.raises(ValueError, match=rf"^model.condition: {condition} trains on the images' classes: labels are "
                                         r"needed$"):
        step.step(0, [torch.rand(4, 5, 3, 32, 32) * 2 - 1])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("condition,kind", [("concat", "bce"), ("acgan", "wgan_gp")])
def test_one_conditioned_step_on_each_device_is_finite_and_moves_both_networks(device, condition, kind):
    # bench/gpu_check.sh's tests step runs the CUDA cases (bfloat16 autocast where the GPU has it).
    p = _conditioned(condition, kind, batch_norm=kind != "wgan_gp")
    step = make_step(replace(p, train=replace(p.train, precision="auto")), torch.device(device), classes=3)
    before = {net: {k: v.clone() for k, v in step.state()[net].items()} for net in ("generator", "discriminator")}
    batches = [torch.rand(4, 5, 3, 32, 32, device=device) * 2 - 1] * step.batches_per_step
    logged = step.step(0, batches, [torch.tensor([2, 0, 1, 2], device=device)] * step.batches_per_step)
    assert all(bool(torch.isfinite(v)) for v in logged.values()) and not bool(step.nonfinite)
    for net, weights in before.items():
        assert any(not torch.equal(v, step.state()[net][k]) for k, v in weights.items()), net


@torch.no_grad()
def _outspoken(network: nn.Module) -> None:
    """``network``'s weights redrawn from N(0, 0.3): at DCGAN's N(0, 0.02) the tiny D's class logits
    are all about 0, so that every labelling's cross-entropy is log 3 to a few decimals."""
    for weight in network.parameters():
        nn.init.normal_(weight, 0.0, 0.3)


def test_the_cgan_step_judges_real_and_generated_images_each_of_their_own_classes():
    step = make_step(_conditioned("concat", batch_norm=False), torch.device("cpu"), classes=3)
    _outspoken(step.D)
    clips, labels = torch.rand(4, 5, 3, 32, 32) * 2 - 1, torch.tensor([2, 0, 1, 2])
    d_loss = step.discriminator_loss(clips, 7, 0, labels)
    real, asked = frame_of_each(clips, (3, 7, 0), 0, 4), draw_classes((3, 7, 0), 3, 4)
    with torch.no_grad():
        fake = step.model(draw_latents((3, 7, 0), 8, 4), asked)
        torch.testing.assert_close(d_loss.real_logits[0], step.D([real], None, labels)[0])
        torch.testing.assert_close(d_loss.fake_logits[0], step.D([fake], None, asked)[0])
        assert (d_loss.fake_logits[0] - step.D([fake], None, labels)[0]).abs().max() > 1e-3  # not the real ones'


@pytest.mark.parametrize("class_d", ["both", "real"])
def test_the_acgan_discriminators_class_term_is_the_cross_entropy_by_hand(class_d):
    step = make_step(_conditioned("acgan", batch_norm=False, class_weight=0.6, class_d=class_d), torch.device("cpu"),
                     classes=3)
    _outspoken(step.D)
    clips, labels = torch.rand(4, 5, 3, 32, 32) * 2 - 1, torch.tensor([2, 0, 1, 2])
    d_loss = step.discriminator_loss(clips, 7, 0, labels)
    # The same images judged apart: the real frames drawn for the batch, the generated of its latents and classes.
    real = frame_of_each(clips, (3, 7, 0), 0, 4)
    asked = draw_classes((3, 7, 0), 3, 4)
    with torch.no_grad():
        fake = step.model(draw_latents((3, 7, 0), 8, 4), asked)
        logits = step.D([torch.cat([real, fake])])[0].numpy()
    real_ce, fake_ce = _ce(logits[:4, 1:], labels.numpy()), _ce(logits[4:, 1:], asked.numpy())
    expected = 0.6 * (real_ce + fake_ce if class_d == "both" else real_ce)
    assert abs(real_ce - math.log(3)) > 0.05 and abs(fake_ce - _ce(logits[4:, 1:], labels.numpy())) > 0.05
    assert d_loss.class_term.item() == pytest.approx(expected, rel=1e-5)
    assert d_loss.total.item() == pytest.approx(d_loss.adversarial.total.item() + expected, rel=1e-5)
    assert float(d_loss.measures()["d_class"]) == pytest.approx(real_ce, rel=1e-5)
    # The objective judged the real/generated logit alone.
    torch.testing.assert_close(d_loss.adversarial.real_logits[0], torch.from_numpy(logits[:4, :1]))


@pytest.mark.parametrize("class_d", ["both", "real"])
def test_the_acgan_class_terms_reach_d_from_real_and_generated_only_with_both_and_g_from_its_images(class_d):
    params = _conditioned("acgan", batch_norm=False, class_d=class_d)
    step = make_step(params, torch.device("cpu"), classes=3)
    _outspoken(step.D)
    labels, asked = torch.tensor([2, 0, 1, 2]), torch.tensor([1, 1, 0, 2])
    real = (torch.rand(4, 3, 32, 32) * 2 - 1).requires_grad_(True)
    fake = step.model(torch.randn(4, 8), asked)
    # D's class term: through the images it judged (the generated ones only with class_d: both), and D's weights.
    judge = step.condition.judge(step.D, [labels, asked])
    make_objective(params.loss.adversarial).discriminator_loss(judge, [real], [fake])
    term, _ = step.condition.discriminator_loss(judge, labels, asked)
    on_real, on_fake = torch.autograd.grad(term, [real, fake], retain_graph=True, allow_unused=True)
    assert on_real.abs().sum() > 0
    assert (on_fake is not None and bool(on_fake.abs().sum() > 0)) == (class_d == "both")
    assert all(g.abs().sum() > 0 for g in torch.autograd.grad(term, [step.D.net[-2].weight]))
    # G's: its images' class term, class_weight times, added to its adversarial loss; it reaches G's weights.
    weighed = {}
    for weight in (0.0, 1.0):
        step.class_weight = weight
        step.model.zero_grad()
        loss = step.generator_loss(None, 0, 1)
        loss.backward()
        weighed[weight] = (loss.item(), [p.grad.clone() for p in step.model.parameters()])
    with torch.no_grad():
        images = step.model(draw_latents((3, 0, 1), 8, 4), draw_classes((3, 0, 1), 3, 4))
        logits = step.D([images])[0][:, 1:].numpy()
    asked = draw_classes((3, 0, 1), 3, 4).numpy()  # batch 1's classes, beside its latents
    assert abs(_ce(logits, asked) - _ce(logits, (asked + 1) % 3)) > 0.05  # the classes asked for matter
    assert weighed[1.0][0] - weighed[0.0][0] == pytest.approx(_ce(logits, asked), rel=1e-4)
    assert any(not torch.equal(a, b) for a, b in zip(weighed[0.0][1], weighed[1.0][1]))


@pytest.mark.parametrize("condition,kind", [("concat", "bce"), ("acgan", "wgan_gp")])
def test_a_resumed_conditioned_dcgan_run_equals_uninterrupted(tmp_path, condition, kind):
    data = labelled_data(tmp_path / "data")
    p = _conditioned(condition, kind)
    # wgan_gp: the interpolates judged as the real images' class, its draws from the checkpoint's random state.
    p = replace(p, train=replace(p.train, steps=4 if kind == "bce" else 2, checkpoint_every=2 if kind == "bce" else 1))
    assert_resumes_exactly(p, data, tmp_path / "runs", classes=3)
