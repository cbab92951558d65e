"""BigGAN (pyext.models.biggan, pyext.losses.biggan, pyext.training.steps.biggan): the orthogonal
regularisation's value and gradient against the paper's formula and its exemptions; the moving
average's update against its formula and that what is measured, pictured and saved is the average;
standing statistics against the batches' own statistics; the conditional batch norm, hierarchical
latents and the projection discriminator against hand-computed outputs; the truncation curve's
latents; a run resumed bit for bit; the refusal of a distributed run. (Its one-line params refusals:
tests/test_config.py; trained and evaluated through the stage scripts: tests/test_generation_eval.py;
one step per device: tests/test_dcgan.py.)"""
from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from cases import TINY_GENERATORS, assert_resumes_exactly, family_params

from pyext.config import ParamsError
from pyext.evaluation.generation import EVAL_KEY, truncated_latents
from pyext.losses.biggan import orthogonal_regularisation
from pyext.models import draw_latents
from pyext.models.biggan import BigGAN, BigGANDiscriminator, ConditionalBatchNorm
from pyext.training import make_step
from pyext.training.steps.biggan import average_into, standing_statistics

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _params(kind: str = "hinge", **knobs):
    return family_params("biggan", TINY_GENERATORS["biggan"] | knobs, kind, steps=2, checkpoint_every=1)


def test_the_orthogonal_regularisation_and_its_gradient_follow_the_formula():
    torch.manual_seed(0)
    conv = torch.nn.Parameter(torch.randn(5, 3, 3, 3))  # 5 filters of 27 numbers
    bias = torch.nn.Parameter(torch.randn(5))
    beta = 1e-2
    term = orthogonal_regularisation([conv, bias], beta)
    term.backward()
    W = conv.detach().reshape(5, -1).T  # (fan_in, filters): its columns are the filters
    off = W.T @ W * (1 - torch.eye(5))
    torch.testing.assert_close(term.detach(), beta * off.square().sum())  # beta ||W^T W * (1 - I)||_F^2
    # d/dW = 4 beta W (W^T W * (1 - I)), back in the filters' layout.
    torch.testing.assert_close(conv.grad, (4 * beta * W @ off).T.reshape(5, 3, 3, 3))
    assert bias.grad is None  # one dimension: not regularised
    # Orthogonal filters cost nothing, whatever their norms.
    scaled = torch.nn.Parameter(torch.diag(torch.tensor([3.0, 0.5, 2.0])))
    assert float(orthogonal_regularisation([scaled], 1.0).detach()) == 0.0


def test_the_regularisation_leaves_out_the_shared_embedding_and_what_has_one_dimension():
    G = BigGAN(32, 8, 0.0625, classes=3, embedding=4)
    orthogonal_regularisation(G.parameters(), 1e-4, G.exempt()).backward()
    named = dict(G.named_parameters())
    assert named["shared.weight"].grad is None and G.exempt() == [named["shared.weight"]]
    for name, p in named.items():
        if p.dim() < 2:
            assert p.grad is None, name
    # The spectrally normalised layers' raw weights are regularised (the authors regularise them).
    assert named["linear.parametrizations.weight.original"].grad is not None
    assert named["blocks.0.bn1.gain.parametrizations.weight.original"].grad is not None


def test_the_moving_average_follows_its_formula_and_copies_the_buffers():
    torch.manual_seed(0)
    model, average = BigGAN(32, 8, 0.0625), BigGAN(32, 8, 0.0625)
    model(torch.randn(4, 8))  # training mode: batch-norm statistics and power iterations move the buffers
    before = [p.clone() for p in average.parameters()]
    average_into(average, model, 0.9)
    for mine, old, theirs in zip(average.parameters(), before, model.parameters()):
        torch.testing.assert_close(mine, 0.9 * old + 0.1 * theirs)
    assert all(torch.equal(a, b) for a, b in zip(average.buffers(), model.buffers()))
    average_into(average, model, 0.0)  # decay 0: a copy
    assert all(torch.equal(a, b) for a, b in zip(average.parameters(), model.parameters()))


def test_the_step_averages_g_from_ema_start_and_measures_pictures_and_saves_the_average():
    step = make_step(_params(ema_start=1, ema_decay=0.5, ortho=1e-3), torch.device("cpu"))
    clips = [torch.rand(4, 5, 3, 32, 32) * 2 - 1] * step.batches_per_step
    logged = step.step(0, clips)
    # Before ema_start the average is a copy of G.
    assert all(torch.equal(a, g) for a, g in zip(step.model.parameters(), step.G.parameters()))
    assert float(logged["train/ortho"]) > 0 and set(logged) >= {"train/loss_g", "train/loss_d", "train/ortho"}
    average = [p.clone() for p in step.model.parameters()]
    step.step(1, clips)
    for mine, old, theirs in zip(step.model.parameters(), average, step.G.parameters()):
        torch.testing.assert_close(mine, 0.5 * old + 0.5 * theirs)
    assert not all(torch.equal(a, g) for a, g in zip(step.model.parameters(), step.G.parameters()))
    # What the loop measures and what models/generator.pt and the checkpoint's generator hold: the average.
    assert step.generator is step.model and not step.model.training
    state = step.state()
    assert all(torch.equal(state["generator"][k], v) for k, v in step.model.state_dict().items())
    assert all(torch.equal(state["trained_generator"][k], v) for k, v in step.G.state_dict().items())
    # The optimiser trains G, not the average.
    trained = {id(p) for group in step.opt_g.param_groups for p in group["params"]}
    assert trained == {id(p) for p in step.G.parameters()} and not any(p.requires_grad for p in step.model.parameters())


def test_standing_statistics_are_the_plain_average_of_the_batches_statistics():
    torch.manual_seed(0)
    G = BigGAN(32, 8, 0.0625)
    twin = copy.deepcopy(G)
    norm = G.output[0]  # the output batch norm: its inputs recorded per batch
    seen = []
    norm.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].detach()))
    G.eval()
    momentum = norm.momentum
    standing_statistics(G, 3, 5, seed=7, classes=0, device=torch.device("cpu"))
    assert len(seen) == 3 and not G.training and norm.momentum == momentum
    means = torch.stack([x.mean(dim=(0, 2, 3)) for x in seen])
    variances = torch.stack([x.var(dim=(0, 2, 3), unbiased=True) for x in seen])
    torch.testing.assert_close(norm.running_mean, means.mean(0))
    torch.testing.assert_close(norm.running_var, variances.mean(0))
    assert int(norm.num_batches_tracked) == 3
    # The draws are the seed's: a copy of the generator gets the same statistics, torch's own random
    # state untouched. (G itself would not, quite: the forwards also ran spectral norm's power iteration.)
    state = torch.random.get_rng_state()
    standing_statistics(twin, 3, 5, seed=7, classes=0, device=torch.device("cpu"))
    assert torch.equal(twin.output[0].running_mean, norm.running_mean)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_conditional_batch_norm_gains_and_biases_are_linear_in_y():
    torch.manual_seed(0)
    bn = ConditionalBatchNorm(3, 2)
    x, y = torch.randn(4, 3, 5, 5), torch.randn(4, 2)
    normalised = F.batch_norm(x, None, None, training=True)
    assert bn.gain.bias is None and bn.bias.bias is None  # y = 0: plain batch norm
    gain = 1 + y @ bn.gain.weight.T
    bias = y @ bn.bias.weight.T
    torch.testing.assert_close(bn(x, y), normalised * gain[:, :, None, None] + bias[:, :, None, None])


def test_hierarchical_latents_feed_the_first_map_and_each_blocks_norms_in_chunks():
    torch.manual_seed(0)
    G = BigGAN(32, 8, 0.0625).eval()  # 3 blocks: 4 chunks of 2
    assert G.chunk == 2 and G.linear.in_features == 2 and all(b.bn1.gain.in_features == 2 for b in G.blocks)
    z = torch.randn(2, 8)
    seen = []
    G.blocks[1].bn1.gain.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    G(z)
    torch.testing.assert_close(seen[0], z[:, 4:6])  # block 1 (0-based) takes the third chunk
    flat = BigGAN(32, 6, 0.0625, hierarchical=False)  # all of z to the first map, plain batch norms
    assert flat.linear.in_features == 6 and flat.blocks[0].bn1.gain is None
    with pytest.raises(ValueError, match="latent must be a multiple of 4"):
        BigGAN(32, 6, 0.0625)


def test_the_projection_discriminator_adds_the_class_embeddings_inner_product():
    torch.manual_seed(0)
    D = BigGANDiscriminator(32, 0.0625, classes=3, projection=True).eval()
    x, labels = torch.rand(4, 3, 32, 32) * 2 - 1, torch.tensor([0, 2, 1, 2])
    h = F.relu(D.blocks(x)).sum(dim=(2, 3))
    expected = D.linear(h) + (D.embed.weight[labels] * h).sum(1, keepdim=True)
    torch.testing.assert_close(D([x], None, labels)[0], expected)
    plain = BigGANDiscriminator(32, 0.0625).eval()
    torch.testing.assert_close(plain([x])[0], plain.linear(F.relu(plain.blocks(x)).sum(dim=(2, 3))))
    with pytest.raises(ValueError, match="without a projection takes no class labels"):
        plain([x], None, labels)


def test_a_conditioned_generator_shares_one_embedding_across_its_blocks():
    G = BigGAN(32, 8, 0.0625, classes=3, embedding=4).eval()
    assert all(b.bn1.gain.in_features == 2 + 4 for b in G.blocks)  # each block: its chunk beside the embedding
    z = torch.randn(1, 8).expand(3, 8)
    images = G(z, torch.tensor([0, 1, 2]))
    assert not torch.allclose(images[0], images[1])  # the class changes the image, z the same
    with pytest.raises(ValueError, match="needs the class of each image"):
        G(z)


def test_a_projection_conditioned_step_feeds_the_classes_to_both_networks():
    p = _params()
    p = replace(p, model=replace(p.model, condition="projection", embedding=4))
    step = make_step(p, torch.device("cpu"), classes=3)
    assert step.G.classes == 3 and step.D.classes == 3 and step.model.classes == 3
    seen = []
    step.D.embed.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].clone()))
    real = torch.tensor([0, 1, 2, 1])
    step.step(0, [torch.rand(4, 5, 3, 32, 32) * 2 - 1] * step.batches_per_step, [real] * step.batches_per_step)
    # D's first call judged the real images (their own classes) with the generated ones (drawn classes).
    assert torch.equal(seen[0][:4], real) and len(seen[0]) == 8 and int(seen[0].max()) < 3
    with pytest.raises(ValueError, match="trains on the images' classes"):
        step.step(1, [torch.rand(4, 5, 3, 32, 32) * 2 - 1] * step.batches_per_step)


def test_the_truncation_curves_latents_keep_the_values_inside_each_threshold():
    G = BigGAN(32, 8, 0.0625)
    curve = truncated_latents(G, 50, [100.0, 0.5], seed=3)
    z = draw_latents((3, EVAL_KEY), 8, 50)  # the evaluation's own latents
    assert list(curve) == ["truncation 100", "truncation 0.5"]
    assert torch.equal(curve["truncation 100"], z)  # nothing beyond: the same latents
    small = curve["truncation 0.5"]
    inside = z.abs() <= 0.5
    assert bool(small.abs().max() <= 0.5) and torch.equal(small[inside], z[inside])
    assert not torch.equal(small[~inside], z[~inside])  # the rest redrawn
    assert truncated_latents(G, 50, [], seed=3) == {}


@pytest.mark.parametrize("kind", ["hinge", "bce"])
def test_resumed_biggan_run_equals_uninterrupted(data_dir, tmp_path, kind):
    # G, its average (the saved generator), D, both optimisers; the average starts at update 1.
    params = family_params("biggan", TINY_GENERATORS["biggan"], kind, steps=4, checkpoint_every=2)
    params = replace(params, loss=replace(params.loss, adversarial=replace(params.loss.adversarial, d_steps=2)))
    assert_resumes_exactly(params, data_dir, tmp_path, networks=("discriminator", "trained_generator"))


def test_a_distributed_run_is_refused_in_one_line():
    with pytest.raises(ParamsError) as info:
        make_step(_params(), torch.device("cpu"), distributed=True, rank=0, world=2)
    assert str(info.value) == ("params.yaml: model.family: expected dcgan in a distributed run (BigGAN's moving average "
                               "and its standing statistics are not synchronised over processes yet), got 'biggan'")
