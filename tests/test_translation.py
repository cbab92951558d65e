"""Unpaired translation's building blocks (pyext.models.translation, pyext.losses.translation,
pyext.training.pool): the cycle, identity and DiscoGAN/DualGAN terms against hand-computed values;
the image pool's behaviour (its input until full, a stored image with probability 0.5 after, each
stored image returned once at most, its state resumed bit for bit); D's halved loss; the
learning-rate schedule; the PatchGAN's receptive field against the extent of one
logit's input gradient; every network's shapes and ranges at 32 and 64, and the cycle's gradient
reaching every parameter of both generators. The families (cyclegan, discogan, dualgan): one step of
each moves every network and logs finite values; CycleGAN's rates' schedule; a resumed step continues
bit for bit, its pools' contents included; DualGAN's clipped critics; DiscoGAN's code's recipe; the
translators saved and reloaded, and translating whole frames."""
from __future__ import annotations

import io
import math
from dataclasses import replace

import pytest
import torch
from cases import TINY_TRANSLATORS, assert_resumes_exactly, translation_data, translator_params

from pyext.losses.adversarial import DiscriminatorLoss
from pyext.losses.translation import (cycle_loss, discogan_code_weights, discogan_reconstruction_loss,
                                      dualgan_reconstruction_loss, feature_matching_loss, halved_discriminator_loss,
                                      identity_loss, linear_decay_factor)
from pyext.models.translation import (DiscoGANDiscriminator, DiscoGANGenerator, DualGANDiscriminator,
                                      PatchDiscriminator, ResidualGenerator, UNetGenerator, fitting_layers,
                                      receptive_field)
from pyext.training.pool import ImagePool

pytestmark = pytest.mark.usefixtures("one_torch_thread")

W = 1 / 16  # 4 first maps: the layouts are the papers', the sizes tiny


# ----------------------------------------------------------------------------------------- the losses


def test_cycle_and_identity_losses_by_hand():
    a = torch.tensor([[[[0.0, 1.0], [-1.0, 0.5]]]])  # (1, 1, 2, 2)
    a_cycled = torch.tensor([[[[0.5, 1.0], [0.0, 0.5]]]])  # |diff| 0.5, 0, 1, 0: mean 0.375
    b = torch.tensor([[[[1.0, 1.0], [1.0, 1.0]]]])
    b_cycled = torch.tensor([[[[0.0, 1.0], [1.0, -1.0]]]])  # 1, 0, 0, 2: mean 0.75
    assert float(cycle_loss(a, a_cycled, b, b_cycled)) == pytest.approx(10 * (0.375 + 0.75))
    assert float(cycle_loss(a, a_cycled, b, b_cycled, 2.0, 4.0)) == pytest.approx(2 * 0.375 + 4 * 0.75)
    # Identity: 0.5 lambda (||G(b) - b||_1 + ||F(a) - a||_1), the same means with F(a) = a_cycled, G(b) = b_cycled.
    assert float(identity_loss(a, a_cycled, b, b_cycled)) == pytest.approx(0.5 * 10 * (0.375 + 0.75))
    assert float(identity_loss(a, a_cycled, b, b_cycled, weight=4.0, share=0.25)) == pytest.approx(1.0 * 1.125)
    # DiscoGAN squares: (0.25 + 0 + 1 + 0) / 4 and (1 + 0 + 0 + 4) / 4, weight 1 each.
    assert float(discogan_reconstruction_loss(a, a_cycled, b, b_cycled)) == pytest.approx(0.3125 + 1.25)
    assert float(dualgan_reconstruction_loss(a, a_cycled, b, b_cycled, 100.0, 1000.0)) == pytest.approx(37.5 + 750)
    # The gradient reaches the reconstructions, not the real frames: d/dx 10 mean |x - a| = 10 sign / 4.
    a_cycled.requires_grad_(True)
    a.requires_grad_(True)
    cycle_loss(a, a_cycled, b, b_cycled).backward()
    assert a.grad is None and a_cycled.grad.flatten().tolist() == [2.5, 0.0, 2.5, 0.0]  # sign(0) = 0
    with pytest.raises(ValueError, match="a and its reconstruction must have one shape"):
        cycle_loss(a, a_cycled[..., :1], b, b_cycled)


def test_feature_matching_and_the_discogan_codes_weights_by_hand():
    real = [torch.tensor([[1.0, 3.0], [3.0, 5.0]]), torch.tensor([[2.0], [2.0]])]  # batch means (2, 4), (2)
    fake = [torch.tensor([[0.0, 4.0], [2.0, 4.0]], requires_grad=True), torch.tensor([[0.0], [1.0]])]  # (1, 4), (0.5)
    loss = feature_matching_loss(real, fake)
    assert float(loss.detach()) == pytest.approx((1 + 0) / 2 + 1.5 ** 2)
    loss.backward()  # d/dx_ij ((mean_i x_ij - m_j)^2 / 2) = (mean_j - m_j) / 2 per row: -0.5, 0
    assert fake[0].grad.tolist() == [[-0.5, 0.0], [-0.5, 0.0]]
    assert discogan_code_weights(9_999) == (0.099, 0.891, 0.01)
    assert discogan_code_weights(10_000) == (0.05, 0.45, 0.5)
    assert discogan_code_weights(3, curriculum=2, start=0.1, after=0.2) == (0.08, 0.72, 0.2)


def test_the_discriminators_loss_is_halved_and_its_answers_kept():
    r, f = torch.tensor([[0.8], [0.2]]), torch.tensor([[0.1], [0.7]])
    # The authors' LSGAN D: 0.5 (mean (r - 1)^2 + mean f^2) = 0.5 ((0.04 + 0.64) / 2 + (0.01 + 0.49) / 2).
    summed = (r - 1).square().mean() + f.square().mean()
    assert float(halved_discriminator_loss(summed)) == pytest.approx(0.5 * (0.34 + 0.25))
    loss = DiscriminatorLoss([summed, 2 * summed], [r, r], [f, f], threshold=0.5)
    halved = halved_discriminator_loss(loss)
    assert type(halved) is DiscriminatorLoss and float(halved.total) == pytest.approx(1.5 * 0.59)
    assert float(loss.total) == pytest.approx(3 * 0.59)  # the original untouched
    assert halved.real_logits is loss.real_logits and float(halved.accuracy()) == float(loss.accuracy()) == 0.5


def test_the_learning_rate_factor_at_hand_computed_steps_and_through_lambdalr():
    assert [linear_decay_factor(s, 101) for s in (0, 25, 50, 75, 100, 150)] == [1.0, 1.0, 1.0, 0.5, 0.0, 0.0]
    assert linear_decay_factor(50, 100) == pytest.approx(98 / 99)  # just past the half of steps 0..99
    assert linear_decay_factor(0, 1) == 1.0 and linear_decay_factor(1, 2) == 0.0
    with pytest.raises(ValueError, match="step must be an int >= 0"):
        linear_decay_factor(-1, 10)
    p = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([p], lr=0.2)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: linear_decay_factor(s, 9))
    rates = []
    for _ in range(9):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates == pytest.approx([0.2] * 5 + [0.15, 0.1, 0.05, 0.0])


# ------------------------------------------------------------------------------------------- the pool


def _images(ids, side: int = 2) -> torch.Tensor:
    """One image ``(3, side, side)`` per id, every value the id: what comes out tells what went in."""
    return torch.tensor(ids, dtype=torch.float32)[:, None, None, None].expand(-1, 3, side, side).clone()


def _ids(images: torch.Tensor) -> list[int]:
    return [int(v) for v in images[:, 0, 0, 0]]


def test_the_pool_returns_its_input_until_full_and_size_0_is_no_pool():
    pool = ImagePool(5, seed=1)
    batches = [_images([0, 1]), _images([2, 3])]
    for x in batches:
        assert torch.equal(pool.query(x), x)
    for x in batches:
        x.add_(100)  # the caller's tensors changed in place: the pool stored copies
    assert _ids(torch.stack(pool.images)) == [0, 1, 2, 3]
    out = pool.query(_images([4, 5]))  # 4 fills the pool and comes back; 5 may be swapped for a stored one
    assert _ids(out)[0] == 4 and _ids(out)[1] in range(6) and len(pool) == 5
    x = _images([7, 8])
    assert ImagePool(0).query(x) is x


def test_a_full_pool_returns_stored_images_half_the_time_each_once_and_only_stored_ones():
    size, queries = 10, 4000
    pool = ImagePool(size, seed=3)
    pool.query(_images(list(range(size))))
    stored, returned_stored = set(range(size)), []
    for i in range(size, size + queries, 4):
        batch = list(range(i, i + 4))
        for new, got in zip(batch, _ids(pool.query(_images(batch)))):
            if got != new:  # a stored image came back: it was stored earlier, and the new one takes its place
                assert got in stored
                stored.remove(got)
                stored.add(new)
                returned_stored.append(got)
    assert len(set(returned_stored)) == len(returned_stored)  # so each comes back once at most
    assert set(_ids(torch.stack(pool.images))) == stored and len(pool) == size
    # Binomial(4000, 0.5): standard deviation 31.6; 5 of them either side.
    assert abs(len(returned_stored) - queries / 2) < 5 * math.sqrt(queries * 0.25)


def test_a_resumed_pool_continues_bit_for_bit():
    torch.manual_seed(0)
    batches = [torch.randn(3, 3, 4, 4) for _ in range(30)]
    pool = ImagePool(7, seed=11)
    for x in batches[:12]:
        pool.query(x)
    buffer = io.BytesIO()
    torch.save(pool.state_dict(), buffer)  # as a checkpoint holds it
    buffer.seek(0)
    resumed = ImagePool(7, seed=99)  # another seed: the state must bring the random state back
    resumed.load_state_dict(torch.load(buffer))
    state = pool.state_dict()
    saved = {k: v.clone() for k, v in state.items()}
    outs = [(pool.query(x), resumed.query(x)) for x in batches[12:]]
    assert all(torch.equal(a, b) for a, b in outs)
    assert sum(not torch.equal(a, x) for (a, _), x in zip(outs, batches[12:])) > 5  # the pool did swap
    assert all(torch.equal(state[k], saved[k]) for k in saved)  # the state is a copy: querying on left it
    with pytest.raises(ValueError, match="a pool of 2 images cannot hold the 7"):
        ImagePool(2).load_state_dict(pool.state_dict())
    empty = ImagePool(3)
    empty.load_state_dict(ImagePool(3).state_dict())
    assert len(empty) == 0


# -------------------------------------------------------------------------------------- the networks


@pytest.mark.parametrize("kernel, size, layers", [(4, 32, 1), (4, 64, 2), (5, 32, 1), (5, 64, 2)])
def test_the_receptive_field_is_the_extent_of_one_logits_input_gradient(kernel, size, layers):
    # The layers that fit are the most whose field is within the patch.
    assert fitting_layers(size, kernel=kernel) == layers
    assert receptive_field(layers, kernel) <= size < receptive_field(layers + 1, kernel)
    # No norm (an image's statistics would make every logit see every pixel) and positive weights
    # (no two paths cancel): the input gradient of one central logit is nonzero exactly on its field.
    torch.manual_seed(0)
    D = PatchDiscriminator(size, layers=layers, width=W, kernel=kernel, norm="none")
    with torch.no_grad():
        for p in D.parameters():
            p.abs_()
    x = torch.randn(1, 3, size, size, requires_grad=True)
    out = D(x)
    out[0, 0, out.shape[-2] // 2, out.shape[-1] // 2].backward()
    seen = x.grad.abs().sum(1)[0] > 0
    rows, cols = seen.any(1).nonzero().flatten(), seen.any(0).nonzero().flatten()
    extent = int(rows[-1] - rows[0]) + 1
    assert extent == int(cols[-1] - cols[0]) + 1 == receptive_field(layers, kernel) == D.receptive_field
    assert int(seen.sum()) == extent ** 2  # a full square, inside the patch (not cut by its border)
    assert 0 < int(rows[0]) and int(rows[-1]) < size - 1


def test_the_analytic_field_matches_the_papers_70_and_the_layer_choices():
    assert [receptive_field(n) for n in range(4)] == [7, 16, 34, 70]  # 1 + 3 (3 * 2^n - 1)
    assert receptive_field(3, kernel=5) == 93  # DualGAN's code's 256x256 critic
    assert PatchDiscriminator(32, width=W).layers == 1 and PatchDiscriminator(64, width=W).layers == 2
    # The paper's layout at 64x64: C64 (no norm), C128, then C256 at stride 1 and the logit layer.
    D = PatchDiscriminator(64)
    convs = [m for m in D.net if isinstance(m, torch.nn.Conv2d)]
    assert [(c.stride[0], c.out_channels, c.bias is not None) for c in convs] == [
        (2, 64, True), (2, 128, False), (1, 256, False), (1, 1, True)]  # no bias where a norm follows
    assert [type(m) for m in D.net[:3]] == [torch.nn.Conv2d, torch.nn.LeakyReLU, torch.nn.Conv2d]
    assert sum(isinstance(m, torch.nn.InstanceNorm2d) and not m.affine for m in D.net) == 2
    assert PatchDiscriminator(64, receptive=20, width=W).receptive_field == 16
    assert PatchDiscriminator(64, layers=0, width=W).receptive_field == 7
    with pytest.raises(ValueError, match="receptive must be an int from 7"):
        PatchDiscriminator(32, receptive=70)
    with pytest.raises(ValueError, match="2 stride-2 layers see 34x34 pixels, more than a 32x32 patch"):
        PatchDiscriminator(32, layers=2)
    with pytest.raises(ValueError, match="give layers or receptive, not both"):
        PatchDiscriminator(32, layers=1, receptive=16)


def _networks(size: int) -> dict[str, torch.nn.Module]:
    return {"cyclegan_g": ResidualGenerator(size, blocks=2, width=W), "discogan_g": DiscoGANGenerator(size, W),
            "dualgan_g": UNetGenerator(size, W), "cyclegan_d": PatchDiscriminator(size, width=W),
            "discogan_d": DiscoGANDiscriminator(size, W), "dualgan_d": DualGANDiscriminator(size, width=W)}


@pytest.mark.parametrize("size", [32, 64])
def test_every_networks_shapes_and_the_generators_range(size):
    torch.manual_seed(0)
    nets = _networks(size)
    x = (torch.rand(2, 3, size, size) * 2 - 1) * 50  # far outside [-1, 1]: tanh still bounds the output
    for name in ("cyclegan_g", "discogan_g", "dualgan_g"):
        y = nets[name](x)
        assert y.shape == x.shape and float(y.detach().abs().max()) <= 1, name
    # 4x4 kernels, padding 1: the stride-2 layers halve the side, the two of stride 1 take 1 each;
    # 5x5 kernels, padding 2: only the stride-2 layers change it.
    layers = size // 32
    assert nets["cyclegan_d"](x).shape == (2, 1, size // 2 ** layers - 2, size // 2 ** layers - 2)
    assert nets["dualgan_d"](x).shape == (2, 1, size // 2 ** layers, size // 2 ** layers)
    logits, features = nets["discogan_d"].judge(x)
    assert logits.shape == (2, 1) and torch.equal(logits, nets["discogan_d"](x))
    # The code's relu2.. features: 8, 16 (and 32) maps at width 1/16, down to 4x4.
    expected = {32: [(2, 8, 8, 8), (2, 16, 4, 4)], 64: [(2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 4, 4)]}[size]
    assert [tuple(f.shape) for f in features] == expected
    for net in nets.values():  # config() rebuilds the same layers
        shapes = {k: v.shape for k, v in net.state_dict().items()}
        assert {k: v.shape for k, v in type(net)(**net.config()).state_dict().items()} == shapes
    with pytest.raises(ValueError, match=rf"images must be \(B, 3, {size}, {size}\), got \(2, 3, 16, 16\)"):
        nets["cyclegan_g"](x[..., :16, :16])


@pytest.mark.parametrize("family", ["cyclegan", "discogan", "dualgan"])
def test_the_cycle_reaches_every_parameter_of_both_generators(family):
    torch.manual_seed(0)
    make = {"cyclegan": lambda: ResidualGenerator(32, blocks=1, width=W), "discogan": lambda: DiscoGANGenerator(32, W),
            "dualgan": lambda: UNetGenerator(32, W, dropout=0.5)}[family]
    G, F = make(), make()
    a, b = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    (cycle_loss(a, F(G(a)), b, G(F(b))) + identity_loss(a, F(a), b, G(b))).backward()
    for net in (G, F):
        for name, p in net.named_parameters():
            assert p.grad is not None and bool(torch.isfinite(p.grad).all()) and float(p.grad.abs().sum()) > 0, name


def test_the_unets_skips_carry_the_frame_past_its_bottleneck():
    torch.manual_seed(0)
    G = UNetGenerator(32, W)
    with torch.no_grad():  # the 1x1 bottleneck says nothing: only the skip connections carry the frame
        for p in G.down[-1].parameters():
            p.zero_()
    a = torch.rand(2, 3, 32, 32, requires_grad=True)
    G(a).square().sum().backward()
    assert float(a.grad.abs().min(dim=1).values.min()) > 0  # every pixel moves the output


@torch.no_grad()
def test_the_initialisations_are_each_codes():
    torch.manual_seed(0)
    G = ResidualGenerator(32, blocks=9, width=1.0)  # the paper's: N(0, 0.02), biases 0
    weights = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, (torch.nn.Conv2d,
                                                                                     torch.nn.ConvTranspose2d))])
    assert float(weights.std()) == pytest.approx(0.02, rel=0.01) and abs(float(weights.mean())) < 1e-3
    U = UNetGenerator(32, 0.5)
    scales = torch.cat([m.weight for m in U.modules() if isinstance(m, torch.nn.InstanceNorm2d)])
    assert float(scales.mean()) == pytest.approx(1.0, abs=0.01) and 0.01 < float(scales.std()) < 0.03
    # DiscoGAN's code sets none: PyTorch's, uniform within 1 / sqrt(fan in), batch norm's scales 1.
    conv = DiscoGANDiscriminator(64, 1.0).net[2]
    bound = 1 / math.sqrt(conv.weight[0].numel())
    assert float(conv.weight.abs().max()) <= bound and float(conv.weight.std()) > 0.5 * bound / math.sqrt(3)
    assert torch.equal(DiscoGANDiscriminator(64, 1.0).net[3].weight, torch.ones(128))


# ------------------------------------------------------------------------------------------ the families

FAMILIES = list(TINY_TRANSLATORS)


def _step(params):
    from pyext.training import make_step

    return make_step(params, torch.device("cpu"))


def _batches(step, seed: int = 0) -> list[torch.Tensor]:
    """A step's batches: ``2B`` clips ``(2B, 3, 3, 32, 32)`` each, domain A's rows then B's."""
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(2 * step.tp.batch_size, 3, 3, 32, 32, generator=g) * 2 - 1 for _ in range(step.batches_per_step)]


def _copy(state: dict) -> dict:
    """A checkpoint's copy of ``state`` (saved and loaded as the loop's checkpoints are)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _assert_equal(a, b, where: str = "") -> None:
    """Nested states equal bit for bit."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.parametrize("family", FAMILIES)
def test_one_step_of_each_family_moves_every_network_and_logs_finite_values(family):
    step = _step(translator_params(family, batch_size=2))
    assert (step.validates, step.generator, step.predictor) == (False, None, None)
    networks = ("generator", "discriminator_a", "discriminator_b")
    before = {net: {k: v.clone() for k, v in step.state()[net].items()} for net in networks}
    logged = step.step(0, _batches(step))
    assert {"train/loss_g", "train/loss_d", "train/cycle_a", "train/cycle_b"} <= set(logged)
    assert all(f"train/{m}" in logged for m in step.d_measures) and len(step.d_measures) == 2  # one per domain
    assert all(bool(torch.isfinite(v)) for v in logged.values()) and not bool(step.nonfinite)
    for net, weights in before.items():
        after = step.state()[net]
        assert any(not torch.equal(v, after[k]) for k, v in weights.items() if v.is_floating_point()), net
    clips = torch.rand(6, 3, 3, 32, 32) * 2 - 1
    picture = step.pictures((clips, torch.tensor([0, 1, 0, 1, 0, 1])))["translations"]
    assert picture.dtype.name == "uint8" and picture.shape == (6 * (2 * 32 + 2), 3 * (2 * 32 + 2), 3)
    with pytest.raises(ValueError, match=r"a translator's batch is \(2 x train.batch_size = 4, T, 3, P, P\)"):
        step.step(1, [b[:2] for b in _batches(step)])


def test_cyclegans_terms_and_objective_factors():
    from pyext.losses import make_objective
    from pyext.losses.translation import papers_factors

    p = translator_params("cyclegan", batch_size=2)
    # lsgan's D loss is written halved already and its G term halved: (1, 2); any other: D halved.
    assert papers_factors(make_objective(p.loss.adversarial)) == (1.0, 2.0)
    bce = replace(p.loss.adversarial, kind="bce")
    assert papers_factors(make_objective(bce)) == (0.5, 1.0)
    logged = _step(p).step(0, _batches(_step(p)))
    # G's loss: its adversarial terms, lambda (cycle_a + cycle_b) and 0.5 lambda (identity terms).
    cycle = 10 * (logged["train/cycle_a"] + logged["train/cycle_b"])
    assert float(logged["train/cycle"]) == pytest.approx(float(cycle), rel=1e-5)
    total = logged["train/adversarial"] + logged["train/cycle"] + logged["train/identity"]
    assert float(logged["train/loss_g"]) == pytest.approx(float(total), rel=1e-5)
    without = _step(translator_params("cyclegan", {"identity_share": 0.0}, batch_size=2)).step(0, _batches(_step(p)))
    assert "train/identity" not in without


def test_cyclegans_rates_are_constant_for_half_the_run_then_fall_linearly_to_zero():
    from pyext.losses.translation import linear_decay_factor

    steps = 9
    step = _step(translator_params("cyclegan", {"blocks": 0, "pool": 0}, batch_size=1, steps=steps))
    rates = []
    for s in range(steps):
        step.step(s, _batches(step, s))
        rates.append((step.opt_g.param_groups[0]["lr"], step.opt_d.param_groups[0]["lr"]))
    expected = [2e-4 * linear_decay_factor(s, steps) for s in range(steps)]
    assert [g for g, _ in rates] == pytest.approx(expected) and [d for _, d in rates] == pytest.approx(expected)
    assert expected[:5] == [2e-4] * 5 and expected[-1] == 0
    constant = _step(translator_params("cyclegan", {"blocks": 0, "decay": False}, batch_size=1, steps=steps))
    constant.step(steps - 1, _batches(constant))
    assert constant.opt_g.param_groups[0]["lr"] == 2e-4


@pytest.mark.parametrize("family", FAMILIES)
def test_a_resumed_step_continues_bit_for_bit_its_pools_included(family):
    params = translator_params(family, batch_size=2, steps=4)
    batches = {s: _batches(_step(params), s) for s in range(4)}
    straight = _step(params)
    for s in range(4):
        straight.step(s, batches[s])
    first = _step(params)
    for s in range(2):
        first.step(s, batches[s])
    saved = _copy(first.state())
    resumed = _step(params)  # a fresh step: its pools empty, their draws at their start
    resumed.load_state(saved)
    for pool, state in zip(resumed.pools, (saved["pool_a"], saved["pool_b"])):  # the pools came back
        assert len(pool) == len(state["images"]) and all(torch.equal(x, y) for x, y in zip(pool.images, state["images"]))
    if family == "cyclegan":
        assert all(len(pool) == pool.size == 2 for pool in resumed.pools)  # full: its draws are in play
    for s in range(2, 4):
        resumed.step(s, batches[s])
    _assert_equal(straight.state(), resumed.state())
    assert not all(torch.equal(v, saved["generator"][k]) for k, v in straight.state()["generator"].items())


def test_dualgans_critics_are_clipped_after_every_update():
    p = translator_params("dualgan", batch_size=2)
    step = _step(p)
    clip = p.loss.adversarial.wgan.clip
    assert step.batches_per_step == p.loss.adversarial.wgan.critic_steps  # n_critic batches a step
    step.step(0, _batches(step))
    for D in (step.D_a, step.D_b):
        assert max(float(w.detach().abs().max()) for w in D.parameters()) <= clip
    assert max(float(w.detach().abs().max()) for w in step.model.parameters()) > clip  # the generators are not clipped
    bce = _step(translator_params("dualgan", kind="bce", batch_size=2))  # the released code's loss: no clipping
    bce.step(0, _batches(bce))
    assert max(float(w.detach().abs().max()) for w in bce.D_a.parameters()) > clip


def test_discogans_code_recipe_updates_d_every_third_step_with_its_weights():
    from pyext.losses.translation import discogan_code_weights

    knobs = {"recipe": "code", "curriculum": 2, "starting_rate": 0.1, "default_rate": 0.4}
    step = _step(translator_params("discogan", knobs, batch_size=2))
    assert all(g["weight_decay"] == 1e-5 for opt in (step.opt_g, step.opt_d) for g in opt.param_groups)
    moved = []
    for s in range(4):  # the weights (batch norm's running statistics move in every forward)
        before = [w.detach().clone() for w in step.model.parameters()]
        d_before = [w.detach().clone() for w in step.D_a.parameters()]
        logged = step.step(s, _batches(step, s))
        g_moved = any(not torch.equal(v, w) for v, w in zip(before, step.model.parameters()))
        d_moved = any(not torch.equal(v, w) for v, w in zip(d_before, step.D_a.parameters()))
        moved.append((g_moved, d_moved))
        _, _, rate = discogan_code_weights(s, 2, 0.1, 0.4)
        recon = rate * (logged["train/cycle_a"] + logged["train/cycle_b"])  # squared distances, weighed by rate
        assert float(logged["train/reconstruction"]) == pytest.approx(float(recon), rel=1e-5)
        assert float(logged["train/feature_matching"]) >= 0
    assert moved == [(False, True), (True, False), (True, False), (False, True)]
    paper = _step(translator_params("discogan", batch_size=2))
    logged = paper.step(0, _batches(paper))
    assert "train/feature_matching" not in logged
    assert float(logged["train/reconstruction"]) == pytest.approx(
        float(logged["train/cycle_a"] + logged["train/cycle_b"]), rel=1e-5)  # weight 1


@pytest.mark.parametrize("family", FAMILIES)
def test_a_saved_translator_reloads_and_translates_whole_frames_alike(family, tmp_path):
    from pyext.models import FAMILIES as MODELS
    from pyext.models import Translator, generator_file, load_generator

    step = _step(translator_params(family, batch_size=2))
    step.step(0, _batches(step))  # trained weights, running statistics
    model = step.model.eval()
    torch.save(generator_file(model), tmp_path / "generator.pt")
    loaded = load_generator(tmp_path / "generator.pt")
    assert isinstance(loaded, Translator) and type(loaded) is MODELS[family] and loaded.config() == model.config()
    assert not any(k.startswith("D") for k in torch.load(tmp_path / "generator.pt")["state_dict"])  # no discriminator
    m = model.size_multiple
    assert m == {"cyclegan": 4, "discogan": 8, "dualgan": 32}[family]
    side = (48, 80) if m <= 16 else (64, 96)  # larger than the 32x32 patch, in multiples of the mapping's
    x = torch.rand(2, 3, *side) * 2 - 1
    for direction in ("ab", "ba"):
        y = model.translate(x, direction, batch_size=1)
        assert y.shape == x.shape and float(y.abs().max()) <= 1
        assert torch.equal(y, loaded.translate(x, direction, batch_size=1))
    with pytest.raises(ValueError, match=f"frames must be \\(N, 3, H, W\\) with H and W multiples of {m}"):
        model.translate(x[..., : side[1] - 2], "ab")
    with pytest.raises(ValueError, match="direction must be one of ab, ba"):
        model.translate(x, "ac")


def test_a_distributed_translation_run_is_refused_in_one_line():
    from pyext.config import ParamsError
    from pyext.training import make_step

    with pytest.raises(ParamsError, match="model.family: expected a family that is not a translator in a distributed "
                                          "run") as info:
        make_step(translator_params("cyclegan"), torch.device("cpu"), distributed=True)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("family", list(TINY_TRANSLATORS))
def test_a_resumed_run_equals_uninterrupted(family, tmp_path):
    # Through the loop: unpaired batches drawn again from the position reached, both pools restored.
    params = translator_params(family, steps=6, batch_size=2, checkpoint_every=3)
    assert_resumes_exactly(params, translation_data(tmp_path / "data"), tmp_path / "runs",
                           networks=("discriminator_a", "discriminator_b", "pool_a", "pool_b"))


def test_a_batch_larger_than_a_domain_is_refused_naming_the_key(tmp_path):
    from pyext.config import ParamsError
    from pyext.files import DataFiles, RunFiles
    from pyext.training import train

    with pytest.raises(ParamsError) as info:
        train(translator_params("cyclegan", batch_size=13), DataFiles(translation_data(tmp_path / "data")),
              RunFiles(tmp_path / "run"), progress=False)
    assert str(info.value) == (f"params.yaml: train.batch_size: expected at most the 12 training clips of domain A "
                               f"(data.source: demo) in {tmp_path / 'data' / 'train.h5'}, got 13")


def test_the_pipeline_translates_the_demo_set_to_the_photo_set(tmp_path):
    # Two domains named in params, read by the same stages: each domain's patches filtered apart,
    # the translator trained on unpaired batches of both, every declared output written.
    import json
    import sys

    import numpy as np
    import yaml
    from cases import run_in, set_params, tiny_pipeline

    from pyext.data.dataset import store_domains
    from pyext.data.manifest import read_manifest

    work = tiny_pipeline(tmp_path)
    knobs = {f"model__cyclegan__{k}": v for k, v in TINY_TRANSLATORS["cyclegan"].items()}
    set_params(work, data__translate__source="photos", photos__classes=2, photos__groups=3, photos__test_groups=1,
               photos__clips_per_group=1, photos__frames=12, model__family="cyclegan", **knobs,
               loss__adversarial__kind="lsgan", train__init="", train__batch_size=2, evaluate__patches=40)
    for stage in ("prepare", "extract", "filter", "train", "evaluate"):
        done = run_in([sys.executable, "-m", f"pipeline.{stage}"], work)
        if stage == "prepare":
            assert done.stdout.startswith("prepare: demo (domain A) + photos (domain B): ")
    manifest = read_manifest(work / "data" / "manifest.json")
    assert [(v.domain, v.split) for v in manifest.videos].count((1, "test")) == 2  # B's test videos too
    report = json.loads((work / "data" / "filter_report.json").read_text())
    for name in ("train", "val"):
        domains = store_domains(work / "data" / f"{name}.h5", work / "data" / "manifest.json")
        assert [int(np.count_nonzero(domains == d)) for d in (0, 1)] == [report["domains"][k][name] for k in "AB"]
        assert all(report["domains"][k][name] for k in "AB")
    assert (work / "models" / "generator.pt").exists()
    assert sorted(p.name for p in (work / "dvclive" / "plots" / "images").iterdir()) == ["translations"]
    losses = (work / "dvclive" / "plots" / "metrics" / "train" / "cycle_a.tsv").read_text().splitlines()
    assert [row.split("\t")[0] for row in losses[1:]] == ["1", "2", "3", "4"]
    # Every output the evaluate stage declares, each domain's test clips measured both ways.
    declared = yaml.safe_load((work / "dvc.yaml").read_text())["stages"]["evaluate"]["outs"]
    for out in declared:
        path = work / (out if isinstance(out, str) else next(iter(out)))
        assert path.exists(), path
    metrics = json.loads((work / "eval" / "metrics.json").read_text())
    assert {d: metrics[d]["temporal"]["clips"] for d in ("ab", "ba")} == {"ab": 2, "ba": 2}
    assert any(line.startswith("evaluate: A -> B (G(A)): ") for line in done.stdout.splitlines())
    translated = tmp_path / "translated"
    run_in([sys.executable, "-m", "pyext.cli", "translate", str(work / "models" / "generator.pt"),
            str(work / "data" / "demo"), str(translated)], work)
    assert sorted(p.relative_to(translated).as_posix() for p in translated.rglob("*.avi")) == \
        sorted(v.path for v in manifest.videos if v.domain == 0)
