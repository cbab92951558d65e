"""The multi-scale generator and discriminator (pyext.models) and the generator's loss
(pyext.losses; the adversarial objectives are in test_adversarial.py).

Per-scale shapes and ranges; the paper's Table 1 layout counted layer by layer (and its width
multiplier); the generator's residual pyramid form checked against the reference pyramid ops; what
the discriminator's logits depend on; the loss weights of the params; a tiny model overfitting one
batch; full-frame sizes; the saved generator file; argument errors.
"""
import dataclasses
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pyext import reference
from pyext.config import load_params
from pyext.losses import generator_loss, lp_loss
from pyext.models import MultiScaleDiscriminator, MultiScaleGenerator, generator_file, load_generator
from cases import TEST_PARAMS

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _clip(b, t, h, w, seed=0, dtype=torch.float32):
    """A random clip ``(b, t, 3, h, w)`` in [-1, 1]."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand((b, t, 3, h, w), generator=gen, dtype=torch.float64) * 2 - 1).to(dtype)


def _fold(clip):
    return clip.flatten(1, 2)


def _convs(module):
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def _linears(module):
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


# ------------------------------------------------------------------------ shapes and ranges

FRAMES = [pytest.param(4, 1, id="m4-n1"), pytest.param(8, 8, id="m8-n8"), pytest.param(2, 3, id="m2-n3")]


@pytest.mark.parametrize("m,n", FRAMES)
@pytest.mark.parametrize("scales", [1, 2, 3, 4], ids=lambda s: f"scales{s}")
def test_per_scale_shapes_and_ranges(scales, m, n):
    torch.manual_seed(0)
    G = MultiScaleGenerator(m, n, scales, width=0.1)
    D = MultiScaleDiscriminator(m, n, scales, width=0.1, patch=32)
    x = _clip(2, m, 32, 32, seed=1)
    with torch.no_grad():
        ys = G.forward_scales(x)
        assert len(ys) == scales
        for k, y in enumerate(ys, start=1):  # coarsest first
            side = 32 // 2 ** (scales - k)
            assert y.shape == (2, n, 3, side, side)
            assert y.abs().max() < 1 and torch.isfinite(y).all()
        assert torch.equal(G(x), ys[-1])

        logits = D(ys, x)
        assert len(logits) == scales
        assert all(z.shape == (2, 1) for z in logits)

        # A full-size tensor is judged as its Gaussian pyramid, coarsest first.
        full = _clip(2, n, 32, 32, seed=2)
        logits_full = D(full, x)
        assert len(logits_full) == scales and all(z.shape == (2, 1) for z in logits_full)
        pyramid = reference.gaussian_pyramid(full.double(), scales)[::-1]
        for z, z_ref in zip(logits_full, D([p.float() for p in pyramid], x)):
            torch.testing.assert_close(z, z_ref, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------ Table 1

# Per scale, coarsest first: hidden maps, kernels (the paper's Table 1).
G_TABLE = [
    ((128, 256, 128), (3, 3, 3, 3)),
    ((128, 256, 128), (5, 3, 3, 5)),
    ((128, 256, 512, 256, 128), (5, 3, 3, 3, 3, 5)),
    ((128, 256, 512, 256, 128), (7, 5, 5, 5, 5, 7)),
]
# Conv maps, kernels, max-pool, FC sizes.
D_TABLE = [
    ((64,), (3,), None, (512, 256, 1)),
    ((64, 128, 128), (3, 3, 3), None, (1024, 512, 1)),
    ((128, 256, 256), (5, 5, 5), None, (1024, 512, 1)),
    ((128, 256, 512, 128), (7, 7, 5, 5), 2, (1024, 512, 1)),
]
# The first FC layer's input for 32x32 patches, by hand: the unpadded convolutions shrink the side
# by k - 1 each. Scale 1 (4x4): 4-2=2 -> 64*2*2; scale 2 (8x8): 8-6=2 -> 128*2*2;
# scale 3 (16x16): 16-12=4 -> 256*4*4; scale 4 (32x32): 32-6-6-4-4=12, pooled 6 -> 128*6*6.
D_FC_IN = {1.0: (64 * 2 * 2, 128 * 2 * 2, 256 * 4 * 4, 128 * 6 * 6),
           0.5: (32 * 2 * 2, 64 * 2 * 2, 128 * 4 * 4, 64 * 6 * 6)}


def _check_generator_scale(net, maps, kernels, c_in, c_out, width):
    convs = _convs(net)
    assert [c.out_channels for c in convs] == [round(c * width) for c in maps] + [c_out]
    assert [c.in_channels for c in convs] == [c_in] + [round(c * width) for c in maps]
    assert [c.kernel_size for c in convs] == [(k, k) for k in kernels]
    assert [c.padding for c in convs] == [(k // 2, k // 2) for k in kernels]
    assert all(c.stride == (1, 1) and c.bias is not None for c in convs)
    # ReLU between the convolutions, nothing after the last (tanh is applied by the generator).
    kinds = [type(layer) for layer in net]
    assert kinds == [t for _ in kernels for t in (nn.Conv2d, nn.ReLU)][:-1]


def _check_discriminator_scale(net, maps, kernels, pool, fc, c_in, fc_in, width):
    convs = _convs(net)
    assert [c.out_channels for c in convs] == [round(c * width) for c in maps]
    assert [c.in_channels for c in convs] == [c_in] + [round(c * width) for c in maps[:-1]]
    assert [c.kernel_size for c in convs] == [(k, k) for k in kernels]
    assert all(c.padding == (0, 0) and c.stride == (1, 1) for c in convs)
    pools = [m for m in net.modules() if isinstance(m, nn.MaxPool2d)]
    assert [p.kernel_size for p in pools] == ([pool] if pool else [])
    linears = _linears(net)
    assert [lin.out_features for lin in linears] == [round(c * width) for c in fc[:-1]] + [1]
    assert [lin.in_features for lin in linears] == [fc_in] + [round(c * width) for c in fc[:-1]]


@pytest.mark.parametrize("width", [1.0, 0.5], ids=["width1", "width0.5"])
def test_table1_layout(width):
    torch.manual_seed(0)
    m, n = 4, 1
    G = MultiScaleGenerator(m, n, scales=4, width=width)
    assert len(G.nets) == 4
    for k, (net, (maps, kernels)) in enumerate(zip(G.nets, G_TABLE)):
        c_in = 3 * m if k == 0 else 3 * m + 3 * n
        _check_generator_scale(net, maps, kernels, c_in, 3 * n, width)

    D = MultiScaleDiscriminator(m, n, scales=4, width=width, patch=32)
    assert len(D.nets) == 4
    for net, (maps, kernels, pool, fc), fc_in in zip(D.nets, D_TABLE, D_FC_IN[width]):
        _check_discriminator_scale(net, maps, kernels, pool, fc, 3 * (m + n), fc_in, width)

    # The FC input sizes match what the convolutions actually produce.
    x, y = _clip(1, m, 32, 32, seed=1), _clip(1, n, 32, 32, seed=2)
    with torch.no_grad():
        logits = D(y, x)
    assert [z.shape for z in logits] == [(1, 1)] * 4


def test_fewer_scales_use_the_finest_layouts():
    # With 2 scales and 32x32 patches, the model runs Table 1's scales 3 and 4 at 16x16 and 32x32.
    torch.manual_seed(0)
    m, n = 2, 3
    G = MultiScaleGenerator(m, n, scales=2, width=1.0)
    _check_generator_scale(G.nets[0], *G_TABLE[2], 3 * m, 3 * n, 1.0)
    _check_generator_scale(G.nets[1], *G_TABLE[3], 3 * m + 3 * n, 3 * n, 1.0)
    D = MultiScaleDiscriminator(m, n, scales=2, width=1.0, patch=32)
    for net, layout, fc_in in zip(D.nets, D_TABLE[2:], D_FC_IN[1.0][2:]):
        _check_discriminator_scale(net, *layout, 3 * (m + n), fc_in, 1.0)


# ------------------------------------------------------------------------ the residual pyramid


def _small_generator(m, n, scales, seed=0):
    """A float64 generator whose weights are scaled down, so tanh stays far from saturation."""
    torch.manual_seed(seed)
    G = MultiScaleGenerator(m, n, scales, width=0.1).double()
    with torch.no_grad():
        for p in G.parameters():
            p.mul_(0.7)
    return G


@pytest.mark.parametrize("m,n,scales", [(4, 1, 4), (2, 3, 3)], ids=["m4-n1-s4", "m2-n3-s3"])
def test_residual_pyramid_identity(m, n, scales):
    G = _small_generator(m, n, scales)
    x = _clip(2, m, 16, 24, seed=3, dtype=torch.float64)
    with torch.no_grad():
        ys = [_fold(y) for y in G.forward_scales(x)]
        assert max(y.abs().max() for y in ys) < 0.9  # atanh is well conditioned
        xs = [_fold(level) for level in reference.gaussian_pyramid(x, scales)[::-1]]
        z = [torch.atanh(y) for y in ys]
        torch.testing.assert_close(z[0], G.nets[0](xs[0]), rtol=1e-8, atol=1e-10)
        for k in range(1, scales):
            size = xs[k].shape[-2:]
            assert ys[k].shape[-2:] == size
            residual = G.nets[k](torch.cat([xs[k], reference.pyr_up(ys[k - 1], size)], dim=1))
            assert residual.abs().max() > 1e-3  # the identity is not 0 == 0
            torch.testing.assert_close(z[k] - reference.pyr_up(z[k - 1], size), residual, rtol=1e-8, atol=1e-10)


def test_zero_residuals_upsample_the_coarsest_prediction():
    m, n, scales = 4, 2, 4
    G = _small_generator(m, n, scales, seed=1)
    with torch.no_grad():
        for net in G.nets[1:]:
            last = _convs(net)[-1]
            last.weight.zero_()
            last.bias.zero_()
        x = _clip(2, m, 16, 16, seed=4, dtype=torch.float64)
        ys = [_fold(y) for y in G.forward_scales(x)]
        z = G.nets[0](_fold(reference.gaussian_pyramid(x, scales)[-1]))
        assert z.abs().max() > 1e-3
        torch.testing.assert_close(ys[0], torch.tanh(z), rtol=1e-10, atol=1e-12)
        for k in range(1, scales):
            z = reference.pyr_up(z, ys[k].shape[-2:])
            torch.testing.assert_close(ys[k], torch.tanh(z), rtol=1e-8, atol=1e-10)
            torch.testing.assert_close(ys[k], torch.tanh(reference.pyr_up(torch.atanh(ys[k - 1]))),
                                       rtol=1e-8, atol=1e-10)


def _perturbed(G, seed):
    """``G`` with every weight drawn at random from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in G.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
    return G


def test_skip_generator_with_no_change_copies_the_last_frame():
    G = MultiScaleGenerator(4, 2, 3, width=0.1, skip="last_frame").double()
    x = _clip(2, 4, 16, 16, seed=8, dtype=torch.float64)
    with torch.no_grad():
        assert not torch.allclose(G(x), x[:, -1:].expand(-1, 2, -1, -1, -1))  # default init: a change
        for net in G.nets:  # every scale's change R_k is zero
            net[-1].weight.zero_()
            net[-1].bias.zero_()
        ys = G.forward_scales(x)
        for y, level in zip(ys, reference.gaussian_pyramid(x, 3)[::-1]):
            # each scale: the last frame at that scale
            torch.testing.assert_close(y, level[:, -1:].expand_as(y), rtol=1e-12, atol=1e-12)
        assert torch.equal(G.predict(x, steps=2), x[:, -1:].expand(-1, 4, -1, -1, -1))
    # The zero convolutions still learn: the loss's gradient reaches their weights.
    x.requires_grad_(False)
    G(x).square().mean().backward()
    assert all(net[-1].weight.grad.abs().sum() > 0 for net in G.nets)


@pytest.mark.parametrize("m,n,scales", [(4, 1, 4), (2, 3, 3)], ids=["m4-n1-s4", "m2-n3-s3"])
def test_skip_residual_pyramid_is_a_change_to_the_last_frame(m, n, scales):
    # Y_k = L_k + R_k, R_1 = G'_1(X_1), R_k = u(R_{k-1}) + G'_k(X_k, u(Y_{k-1})): built by hand
    # with the reference pyramid ops.
    G = _perturbed(MultiScaleGenerator(m, n, scales, width=0.1, skip="last_frame").double(), seed=2)
    x = _clip(2, m, 16, 24, seed=3, dtype=torch.float64)
    levels = reference.gaussian_pyramid(x, scales)[::-1]
    with torch.no_grad():
        ys = [_fold(y) for y in G.forward_scales(x)]
        r = G.nets[0](_fold(levels[0]))
        for k, level in enumerate(levels):
            if k:
                size = level.shape[-2:]
                r = reference.pyr_up(r, size) + G.nets[k](torch.cat([_fold(level), reference.pyr_up(ys[k - 1], size)],
                                                                    dim=1))
            expected = _fold(level[:, -1:].expand(-1, n, -1, -1, -1)) + r
            assert r.abs().max() > 1e-3  # not 0 == 0
            torch.testing.assert_close(ys[k], expected, rtol=1e-8, atol=1e-10)


def test_skip_predictions_are_clamped_where_fed_back():
    G = _perturbed(MultiScaleGenerator(4, 1, 2, width=0.1, skip="last_frame"), seed=3)
    x = _clip(1, 4, 8, 8, seed=1)
    with torch.no_grad():
        y = G(x)
        assert y.max() > 1 and y.min() < -1  # the change overshoots both ways
        first = G.predict(x, steps=2)[:, :1]
        assert torch.equal(first, y.clamp(-1, 1))


def test_discriminator_logits_depend_on_inputs_and_on_each_scale():
    torch.manual_seed(0)
    scales = 4
    D = MultiScaleDiscriminator(4, 2, scales, width=0.25, patch=32)
    x1, x2 = _clip(2, 4, 32, 32, seed=6), _clip(2, 4, 32, 32, seed=7)
    gen = torch.Generator().manual_seed(8)
    ys = [torch.rand((2, 2, 3, s, s), generator=gen) * 1.8 - 0.9 for s in (4, 8, 16, 32)]
    with torch.no_grad():
        base = D(ys, x1)
        other_x = D(ys, x2)
        for a, b in zip(base, other_x):
            assert ((a - b).abs() > 1e-6).all()
        # Scale k judges ys[k] (and the inputs at its size) only.
        for k in range(scales):
            changed = list(ys)
            changed[k] = -ys[k]
            logits = D(changed, x1)
            for j, (a, b) in enumerate(zip(base, logits)):
                if j == k:
                    assert ((a - b).abs() > 1e-6).all(), (k, j)
                else:
                    assert torch.equal(a, b), (k, j)



def test_discriminator_leak_is_its_activations_slope():
    # d_leak 0 keeps the paper's ReLU; otherwise every activation is a LeakyReLU of that slope, with
    # the same weights for the same seed (activations hold none), so a negative input passes.
    p = load_params(TEST_PARAMS)
    leaky_params = dataclasses.replace(p, model=dataclasses.replace(
        p.model, multiscale=dataclasses.replace(p.model.multiscale, d_leak=0.2)))
    torch.manual_seed(0)
    plain = MultiScaleDiscriminator.from_params(p)
    torch.manual_seed(0)
    leaky = MultiScaleDiscriminator.from_params(leaky_params)
    acts = [type(m) for m in plain.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU))]
    slopes = [m.negative_slope for m in leaky.modules() if isinstance(m, nn.LeakyReLU)]
    assert set(acts) == {nn.ReLU} and len(slopes) == len(acts) and set(slopes) == {0.2}
    for a, b in zip(plain.state_dict().values(), leaky.state_dict().values()):
        assert torch.equal(a, b)
    x = torch.full((1, 3, 5, 5), -1.0)
    assert torch.equal(leaky.nets[0].features[1](x.clone()), x * 0.2)


# ------------------------------------------------------------------------ loss weights


def _lp(y, t, p):
    return (y - t).abs().mean() if p == 1 else ((y - t) ** 2).mean()


@pytest.mark.parametrize("p,alpha", [(2, 1.0), (1, 1.0), (2, 1.5)], ids=["p2-a1", "p1-a1", "p2-a1.5"])
@pytest.mark.parametrize("lp,gdl,adv", [(1.0, 1.0, 0.05), (0.0, 1.0, 0.05), (1.0, 0.0, 0.05), (1.0, 1.0, 0.0),
                                        (2.5, 0.5, 0.3), (0.0, 0.0, 1.0)],
                         ids=["all", "no-lp", "no-gdl", "no-adv", "mixed", "adv-only"])
def test_generator_loss_weights(lp, gdl, adv, p, alpha):
    base = load_params(TEST_PARAMS).loss
    params = dataclasses.replace(base, lp=lp, gdl=gdl, adv=adv, p=p, alpha=alpha)
    gen = torch.Generator().manual_seed(9)
    preds = [torch.rand((2, 1, 3, s, s), generator=gen, dtype=torch.float64) * 2 - 1 for s in (4, 8, 16)]
    targets = [torch.rand((2, 1, 3, s, s), generator=gen, dtype=torch.float64) * 2 - 1 for s in (4, 8, 16)]
    adversarial = [torch.rand((), generator=gen, dtype=torch.float64) + 0.5 for _ in range(3)]

    lp_k = [_lp(y, t, p) for y, t in zip(preds, targets)]
    gdl_k = [reference.gdl_loss(y, t, alpha) for y, t in zip(preds, targets)]
    lp_sum, gdl_sum, adv_sum = sum(lp_k), sum(gdl_k), sum(adversarial)
    assert min(lp_sum, gdl_sum, adv_sum) > 0.1  # every term can move the total

    out = generator_loss(params, preds, targets, adversarial)
    for got, want in zip(out.lp, lp_k):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    for got, want in zip(out.gdl, gdl_k):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    expected = lp * lp_sum + gdl * gdl_sum + adv * adv_sum
    torch.testing.assert_close(out.total, expected, rtol=1e-10, atol=1e-12)

    # Without the adversarial term (adversarial training off) only lp and gdl count.
    no_adv = generator_loss(params, preds, targets, None)
    assert no_adv.adv is None
    torch.testing.assert_close(no_adv.total, lp * lp_sum + gdl * gdl_sum, rtol=1e-10, atol=1e-12)


def test_lp_loss_by_hand():
    pred = torch.tensor([[0.5, -1.0], [0.0, 1.0]])
    target = torch.tensor([[0.0, 1.0], [0.0, 0.5]])
    assert lp_loss(pred, target, 1).item() == pytest.approx((0.5 + 2.0 + 0.0 + 0.5) / 4)
    assert lp_loss(pred, target, 2).item() == pytest.approx((0.25 + 4.0 + 0.0 + 0.25) / 4)


# ------------------------------------------------------------------------ learning


def _moving_squares(batch=4, frames=5, side=16):
    """Coloured squares on a grey background, moving one pixel down-right per frame."""
    clips = torch.full((batch, frames, 3, side, side), -0.5)
    for b in range(batch):
        colour = torch.tensor([0.5, -0.2, 0.2]) * (1 + b) / 4 + 0.3
        r0, c0 = 2 + b, 1 + 2 * b
        for t in range(frames):
            clips[b, t, :, r0 + t:r0 + t + 5, c0 + t:c0 + t + 5] = colour[:, None, None]
    return clips


def test_tiny_generator_overfits_one_batch():
    torch.manual_seed(0)
    scales = 2
    G = MultiScaleGenerator(4, 1, scales, width=0.1)
    clips = _moving_squares()
    x, y = clips[:, :4], clips[:, 4:]
    targets = reference.gaussian_pyramid(y, scales)[::-1]
    params = dataclasses.replace(load_params(TEST_PARAMS).loss, lp=1.0, gdl=1.0, adv=0.0, p=2, alpha=1.0)
    optimizer = torch.optim.Adam(G.parameters(), lr=1e-3)
    with torch.no_grad():
        initial = F.mse_loss(G(x), y).item()
    for _ in range(150):
        loss = generator_loss(params, G.forward_scales(x), targets).total
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        final = F.mse_loss(G(x), y).item()
    assert final < 0.1 * initial, (initial, final)


# ------------------------------------------------------------------------ full frames


def test_full_frame_forward():
    torch.manual_seed(0)
    G = MultiScaleGenerator(4, 2, scales=4, width=0.05)
    x = _clip(1, 4, 240, 320, seed=10)
    with torch.no_grad():
        ys = G.forward_scales(x)
    assert [tuple(y.shape) for y in ys] == [(1, 2, 3, 240 // f, 320 // f) for f in (8, 4, 2, 1)]
    assert ys[-1].abs().max() < 1


@pytest.mark.parametrize("h,w", [(30, 32), (32, 36), (20, 20)], ids=["30x32", "32x36", "20x20"])
def test_sizes_not_multiple_of_the_coarsest_step(h, w):
    G = MultiScaleGenerator(4, 1, scales=4, width=0.05)
    with pytest.raises(ValueError, match=r"multiples of 2\^\(scales-1\) = 8"):
        G(_clip(1, 4, h, w))
    # With 2 scales, even sizes are enough.
    assert MultiScaleGenerator(4, 1, scales=2, width=0.05)(_clip(1, 4, 30, 34)).shape == (1, 1, 3, 30, 34)


# ------------------------------------------------------------------------ the saved generator


def test_load_generator_round_trip(tmp_path):
    torch.manual_seed(0)
    G = MultiScaleGenerator(2, 3, scales=3, width=0.15)
    path = tmp_path / "generator.pt"
    torch.save(generator_file(G), path)
    loaded = load_generator(path)
    assert isinstance(loaded, MultiScaleGenerator)
    assert loaded.config() == G.config() == {"input_frames": 2, "output_frames": 3, "scales": 3, "width": 0.15,
                                             "skip": "none", "attention": False, "classes": 0, "embedding": 0,
                                             "noise": 0}
    assert not loaded.training
    assert loaded.state_dict().keys() == G.state_dict().keys()
    for key, value in G.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    x = _clip(2, 2, 16, 16, seed=11)
    with torch.no_grad():
        assert torch.equal(loaded(x), G.eval()(x))
    # load_generator reads with weights_only: the file holds plain data.
    saved = torch.load(path, weights_only=True)
    assert (saved["format"], saved["family"], saved["config"]) == (2, "multiscale", G.config())
    # A skip generator comes back as one; a file written before the option existed (no "skip" in
    # its config) is the paper's form.
    skip = MultiScaleGenerator(4, 1, scales=2, width=0.1, skip="last_frame")
    torch.save(generator_file(skip), path)
    assert load_generator(path).skip == "last_frame"
    old = generator_file(G)
    del old["config"]["skip"], old["config"]["attention"]
    torch.save(old, path)
    assert load_generator(path).skip == "none" and not load_generator(path).attention
    # An attention generator comes back with its blocks and their weights.
    attending = MultiScaleGenerator(4, 1, scales=3, width=0.1, attention=True)
    with torch.no_grad():
        for p in attending.parameters():
            p.add_(0.01)  # gamma off 0, so that the blocks act
    torch.save(generator_file(attending), path)
    loaded = load_generator(path)
    x = _clip(1, 4, 16, 16, seed=12)
    with torch.no_grad():
        assert loaded.attention and torch.equal(loaded(x), attending.eval()(x))
    # A file of format 1 (before model families) names no family: it is a multi-scale generator.
    first = {"format": 1, "config": G.config(), "state_dict": generator_file(G)["state_dict"]}
    torch.save(first, path)
    assert isinstance(load_generator(path), MultiScaleGenerator) and load_generator(path).config() == G.config()


def test_generator_file_takes_other_weights():
    G, other = MultiScaleGenerator(4, 1, 2, 0.1), MultiScaleGenerator(4, 1, 2, 0.1)
    saved = generator_file(G, other.state_dict())
    assert all(torch.equal(saved["state_dict"][k], v) for k, v in other.state_dict().items())


def test_load_generator_errors(tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"a": 1}, foreign)
    with pytest.raises(ValueError, match="foreign.pt"):
        load_generator(foreign)
    other_format = tmp_path / "other_format.pt"
    torch.save({**generator_file(MultiScaleGenerator(4, 1, 1, 0.05)), "format": 99}, other_format)
    with pytest.raises(ValueError, match="other_format.pt"):
        load_generator(other_format)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a torch file\x00\x01")
    with pytest.raises(ValueError, match="garbage.pt"):
        load_generator(garbage)
    with pytest.raises(FileNotFoundError):
        load_generator(tmp_path / "missing.pt")
    good = generator_file(MultiScaleGenerator(4, 1, 2, 0.1))
    damaged = {
        "no_weights": {"format": 1, "config": good["config"]},
        "other_width": {**good, "config": {**good["config"], "width": 0.2}},
        "config_not_mapping": {**good, "config": [1]},
        "bad_scales": {**good, "config": {**good["config"], "scales": 9}},
    }
    for name, content in damaged.items():
        torch.save(content, tmp_path / f"{name}.pt")
    unknown = tmp_path / "unknown_family.pt"
    torch.save({**good, "family": "gaai"}, unknown)
    with pytest.raises(ValueError, match="unknown_family.pt: a generator of model family 'gaai'.*known: multiscale"):
        load_generator(unknown)
        with pytest.raises(ValueError, match=rf"{name}\.pt: a damaged generator file"):
            load_generator(tmp_path / f"{name}.pt")


# ------------------------------------------------------------------------ argument errors


@pytest.mark.parametrize("kwargs", [
    dict(scales=0), dict(scales=5), dict(scales=2.0), dict(scales=True), dict(width=0), dict(width=-0.5),
    dict(width="1"), dict(input_frames=0), dict(output_frames=0), dict(input_frames=1.5),
], ids=lambda kw: "-".join(f"{k}={v!r}" for k, v in kw.items()))
def test_bad_constructor_arguments(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        MultiScaleGenerator(**kwargs)
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        MultiScaleDiscriminator(**kwargs)


def test_unknown_skip():
    with pytest.raises(ValueError, match="skip must be one of none, last_frame, got 'first_frame'"):
        MultiScaleGenerator(skip="first_frame")


@pytest.mark.parametrize("patch,scales", [(30, 4), (4, 4), (10, 3), (31, 2)], ids=["30-s4", "4-s4", "10-s3", "31-s2"])
def test_discriminator_patch_must_divide(patch, scales):
    step = 2 ** (scales - 1)
    with pytest.raises(ValueError, match=rf"patch must be a multiple of 2\^\(scales-1\) = {step}"):
        MultiScaleDiscriminator(4, 1, scales, width=0.05, patch=patch)


def test_discriminator_patch_too_small_for_its_convolutions():
    # 8x8 patches over 4 scales leave 1x1 at scale 1, which its 3x3 convolution cannot take.
    with pytest.raises(ValueError, match="scale 1 needs larger patches"):
        MultiScaleDiscriminator(4, 1, 4, width=0.05, patch=8)


def test_discriminator_argument_errors():
    torch.manual_seed(0)
    D = MultiScaleDiscriminator(4, 1, scales=3, width=0.05, patch=32)
    x = _clip(2, 4, 32, 32)
    ys = [_clip(2, 1, s, s) for s in (8, 16, 32)]
    with torch.no_grad():
        assert len(D(ys, x)) == 3
        with pytest.raises(ValueError, match="32x32"):
            D([_clip(2, 1, s, s) for s in (4, 8, 16)], _clip(2, 4, 16, 16))
        with pytest.raises(ValueError, match=r"\(B, 4, 3, H, W\)"):
            D(ys, _clip(2, 3, 32, 32))
        with pytest.raises(ValueError, match="3 scales, got 2"):
            D(ys[1:], x)
        with pytest.raises(ValueError, match="3 scales, got 4"):
            D([_clip(2, 1, 4, 4), *ys], x)
        with pytest.raises(ValueError, match=r"ys\[0\]"):
            D(ys[::-1], x)
        with pytest.raises(ValueError, match=r"ys\[1\]"):
            D([ys[0], _clip(2, 2, 16, 16), ys[2]], x)  # wrong frame count at one scale
        with pytest.raises(ValueError, match=r"ys\[2\]"):
            D([ys[0], ys[1], _clip(3, 1, 32, 32)], x)  # wrong batch at one scale
        with pytest.raises(ValueError, match=r"ys must be a clip \(B, 1, 3, H, W\)"):
            D(_clip(2, 2, 32, 32), x)


def test_generator_rejects_wrong_clips():
    G = MultiScaleGenerator(4, 1, scales=2, width=0.05)
    with pytest.raises(ValueError, match=r"\(B, 4, 3, H, W\)"):
        G(_clip(1, 3, 16, 16))
    with pytest.raises(ValueError, match=r"\(B, 4, 3, H, W\)"):
        G(torch.zeros(1, 12, 16, 16))


def test_the_validation_takes_exactly_the_patches_table_1s_discriminator_takes():
    # patch 16 with 4 scales passed the validator and failed in D with a 37-line ValueError (42 such
    # pairs): the rule now comes from the same layout the discriminator is built from.
    import yaml

    from cases import TEST_PARAMS
    from pyext.config import ParamsError, parse_params

    raw = yaml.safe_load(TEST_PARAMS.read_text())
    raw["extract"]["frame_size"] = [256, 256]
    checked = refused = 0
    for scales in range(1, 5):
        for patch in range(2 ** (scales - 1), 129, 2 ** (scales - 1)):
            if patch < 4:
                continue
            raw["clip"]["patch"], raw["model"]["multiscale"]["scales"] = patch, scales
            try:
                parse_params(raw)
                valid = True
            except ParamsError as error:
                assert "\n" not in str(error) and str(error).startswith("params.yaml: clip.patch: expected at least ")
                valid = False
            try:
                MultiScaleDiscriminator(4, 1, scales=scales, width=0.05, patch=patch)
                builds = True
            except ValueError:
                builds = False
            assert valid == builds, (scales, patch)
            checked, refused = checked + 1, refused + (not valid)
    assert checked > 100 and refused > 10
    raw["loss"]["adv"] = 0.0  # no discriminator is built: any halvable patch
    raw["clip"]["patch"], raw["model"]["multiscale"]["scales"] = 16, 4
    assert parse_params(raw).clip.patch == 16
