"""The adversarial objectives (pyext.losses.adversarial): every registered one against hand
computations on fixed discriminator outputs, then a contract over the whole registry (finite
losses, the adversarial gradient reaching every generator weight, a discriminator that learns
against a fixed generator)."""
import math

import pytest
import torch
import torch.nn.functional as F

from pyext import reference
from pyext.config import (
    OBJECTIVES,
    FGAN_DIVERGENCES,
    AdversarialParams,
    BEGANParams,
    EBGANParams,
    FGANParams,
    WGANGPParams,
    WGANParams,
)
from pyext.losses import ADVERSARIAL, AdversarialObjective, DiscriminatorLoss, make_objective
from pyext.losses.adversarial.base import CriticLoss
from pyext.losses.adversarial.energy import EnergyLoss, pull_away
from pyext.losses.adversarial.fgan import DIVERGENCES
from pyext.models import DISCRIMINATORS, MultiScaleDiscriminator, MultiScaleGenerator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _clip(b, t, h, w, seed=0):
    """A random clip ``(b, t, 3, h, w)`` in [-1, 1]."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand((b, t, 3, h, w), generator=gen, dtype=torch.float64) * 2 - 1).float()


def _objective(kind, clip=0.01, critic_steps=5, gp_weight=10.0, divergence="js", margin=0.05, pt_weight=0.1,
               gamma=0.5, lambda_k=0.001):
    return make_objective(AdversarialParams(kind=kind, d_steps=1, d_pause=0.0, fgan=FGANParams(divergence=divergence),
                                            wgan=WGANParams(clip=clip, critic_steps=critic_steps),
                                            wgan_gp=WGANGPParams(gp_weight=gp_weight, critic_steps=critic_steps),
                                            ebgan=EBGANParams(margin=margin, pt_weight=pt_weight),
                                            began=BEGANParams(gamma=gamma, lambda_k=lambda_k)))


def _discriminator(kind, scales, width=0.1):
    """The discriminator family the objective ``kind`` trains, at 32x32 patches."""
    return DISCRIMINATORS[OBJECTIVES[kind].discriminator](4, 1, scales=scales, width=width, patch=32)


class _FixedD:
    """A fake discriminator that records its calls and answers fixed outputs."""

    def __init__(self, outputs):
        self.outputs, self.calls = outputs, []

    def __call__(self, ys, x):
        self.calls.append((x, list(ys)))
        return [z.clone() for z in self.outputs]


def test_registry_matches_config():
    assert sorted(ADVERSARIAL) == sorted(OBJECTIVES)
    for kind, cls in ADVERSARIAL.items():
        assert issubclass(cls, AdversarialObjective)
        assert isinstance(_objective(kind), cls)


# Per-clip losses written out with math on floats (r: D's output on a real clip, f: on a generated
# one): (D's loss on a real clip, on a generated clip, G's loss, D's decision threshold).
def _sig(v):
    return 1 / (1 + math.exp(-v))


BY_HAND = {
    "bce": (lambda r: -math.log(_sig(r)), lambda f: -math.log(1 - _sig(f)), lambda f: -math.log(_sig(f)), 0.0),
    "minimax": (lambda r: -math.log(_sig(r)), lambda f: -math.log(1 - _sig(f)), lambda f: math.log(1 - _sig(f)), 0.0),
    "lsgan": (lambda r: 0.5 * (r - 1) ** 2, lambda f: 0.5 * f ** 2, lambda f: 0.5 * (f - 1) ** 2, 0.5),
    "hinge": (lambda r: max(0.0, 1 - r), lambda f: max(0.0, 1 + f), lambda f: -f, 0.0),
    # f-GAN, Jensen-Shannon: g(v) = log 2 - log(1 + e^-v), f*(t) = -log(2 - e^t).
    "fgan": (lambda r: -(math.log(2) - math.log(1 + math.exp(-r))),
             lambda f: -math.log(2 - math.exp(math.log(2) - math.log(1 + math.exp(-f)))),
             lambda f: -(math.log(2) - math.log(1 + math.exp(-f))), 0.0),
    "wgan": (lambda r: -r, lambda f: f, lambda f: -f, 0.0),
}
# wgan_gp's penalty needs a critic that depends on its input: tested below with analytic critics.
ON_FIXED_OUTPUTS = sorted(BY_HAND)


def test_every_objective_is_written_out_by_hand():
    # wgan_gp below with analytic critics; the energy-based ones with a fixed autoencoder.
    assert sorted([*BY_HAND, "wgan_gp", "ebgan", "began"]) == sorted(OBJECTIVES)


REAL = [[1.0, -1.0, 2.0, 0.7], [0.0, 1.0, 0.3, 1.5]]     # two scales, batch 4
FAKE = [[-1.0, -2.0, 0.5, 0.0], [-1.0, 0.6, -0.2, -3.0]]


@pytest.mark.parametrize("kind", ON_FIXED_OUTPUTS)
def test_discriminator_loss_by_hand(kind):
    d_real, d_fake, _, threshold = BY_HAND[kind]
    outputs = [torch.tensor(r + f).unsqueeze(1) for r, f in zip(REAL, FAKE)]  # real clips first
    D = _FixedD(outputs)
    x = _clip(4, 4, 8, 8, seed=12)
    real = [_clip(4, 1, s, s, seed=13 + s) for s in (4, 8)]
    fake = [_clip(4, 1, s, s, seed=23 + s) for s in (4, 8)]
    out = _objective(kind).discriminator_loss(D, real, fake, x)
    assert isinstance(out, DiscriminatorLoss)
    # One call, real and generated clips together, each after the same input frames.
    assert len(D.calls) == 1
    seen_x, seen_ys = D.calls[0]
    assert torch.equal(seen_x, torch.cat([x, x]))
    for seen, r, f in zip(seen_ys, real, fake):
        assert torch.equal(seen, torch.cat([r, f]))
    for k, (r, f) in enumerate(zip(REAL, FAKE)):
        expected = sum(map(d_real, r)) / 4 + sum(map(d_fake, f)) / 4
        assert float(out.per_scale[k]) == pytest.approx(expected, rel=1e-6)
    assert float(out.total) == pytest.approx(float(out.per_scale[0] + out.per_scale[1]))
    # Accuracy at the objective's own threshold: real above, generated below.
    right = sum(v > threshold for r in REAL for v in r) + sum(v < threshold for f in FAKE for v in f)
    assert float(out.accuracy()) == pytest.approx(right / 16)


@pytest.mark.parametrize("kind", [*ON_FIXED_OUTPUTS, "wgan_gp"])
def test_generator_loss_by_hand(kind):
    if kind == "wgan_gp":
        kind = "wgan"  # the same generator loss, -f
        assert type(_objective("wgan_gp")).generator_loss is type(_objective("wgan")).generator_loss
    g = BY_HAND[kind][2]
    D = _FixedD([torch.tensor([[0.5], [-1.0]]), torch.tensor([[2.0], [0.0]])])
    x = _clip(2, 4, 8, 8, seed=30)
    fake = [_clip(2, 1, s, s, seed=31 + s) for s in (4, 8)]
    per_scale = _objective(kind).generator_loss(D, fake, x)
    assert len(D.calls) == 1 and torch.equal(D.calls[0][0], x)
    assert all(seen is f for seen, f in zip(D.calls[0][1], fake))
    for got, z in zip(per_scale, ([0.5, -1.0], [2.0, 0.0])):
        assert float(got) == pytest.approx(sum(map(g, z)) / 2, rel=1e-6)


def test_bce_matches_torchs_binary_cross_entropy():
    # The paper's objective is BCE with real clips labelled 1 and generated ones 0.
    r, f = torch.tensor([[1.0], [-30.0], [40.0]]), torch.tensor([[-2.0], [50.0], [-60.0]])
    out = _objective("bce").discriminator_loss(_FixedD([torch.cat([r, f])]), [torch.zeros(3, 1)], [torch.zeros(3, 1)],
                                              torch.zeros(3, 1))
    expected = (F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
                + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)))
    torch.testing.assert_close(out.per_scale[0], expected)
    assert torch.isfinite(out.total)  # saturated logits stay finite


def test_accuracy_extremes():
    ones, minus = torch.ones(3, 1), -torch.ones(3, 1)
    assert DiscriminatorLoss([], [ones, ones], [minus, minus]).accuracy().item() == 1.0
    assert DiscriminatorLoss([], [minus, minus], [ones, ones]).accuracy().item() == 0.0
    assert DiscriminatorLoss([], [ones], [ones]).accuracy().item() == 0.5
    half = torch.full((3, 1), 0.4)  # below LSGAN's 0.5: "generated"
    assert DiscriminatorLoss([], [half], [half], threshold=0.5).accuracy().item() == 0.5
    assert DiscriminatorLoss([], [ones], [half], threshold=0.5).accuracy().item() == 1.0


# ------------------------------------------------------------------ the contract, whole registry


@pytest.mark.parametrize("kind", OBJECTIVES)
def test_adversarial_term_reaches_every_generator_weight(kind):
    # A port that fed the discriminator's answer back as a constant trained G on lp + gdl only.
    torch.manual_seed(0)
    G = MultiScaleGenerator(4, 1, 4, width=0.1)
    D = _discriminator(kind, 4)
    D.requires_grad_(False)  # the gradient must reach G through D's input, not through D's weights
    x = _clip(4, 4, 32, 32, seed=5)
    per_scale = _objective(kind).generator_loss(D, G.forward_scales(x), x)
    assert len(per_scale) == 4 and all(loss.dim() == 0 and torch.isfinite(loss) for loss in per_scale)
    torch.stack(per_scale).sum().backward()
    for name, p in G.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0, name
    assert all(p.grad is None for p in D.parameters())


def _flat_clip(b, seed):
    """Clips ``(b, 5, 3, 32, 32)`` of one random colour each, over all frames and pixels."""
    return _clip(b, 1, 1, 1, seed=seed).expand(b, 5, 3, 32, 32).clone()


@pytest.mark.parametrize("kind", OBJECTIVES)
def test_discriminator_learns_to_tell_real_from_a_fixed_generator(kind):
    """Against an untrained generator's outputs on fresh random clips every update, D's loss falls
    well below its first value and it gets most clips right at its objective's threshold. An
    autoencoder cannot reconstruct noise: the energy-based objectives see flat-coloured clips (150
    updates), and their D must reconstruct real clips better than at first (BEGAN at k_0 = 0, where
    only that term acts) and generated ones worse than real (EBGAN)."""
    torch.manual_seed(0)
    G = MultiScaleGenerator(4, 1, scales=2, width=0.1)
    D = _discriminator(kind, 2)
    opt = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    objective = _objective(kind)
    energy = OBJECTIVES[kind].discriminator == "autoencoder"
    losses = []
    for step in range(150 if energy else 60):
        clips = _flat_clip(8, step) if energy else _clip(8, 5, 32, 32, seed=step)
        x, y = clips[:, :4], clips[:, 4:]
        with torch.no_grad():
            fake = G.forward_scales(x)
        out = objective.discriminator_loss(D, [reference.gaussian_pyramid(y, 2)[1], y], fake, x)
        opt.zero_grad()
        out.total.backward()
        opt.step()
        assert torch.isfinite(out.total)
        losses.append(float(out.total.detach()))
    if kind in ("bce", "minimax"):
        assert losses[0] == pytest.approx(2 * 2 * math.log(2), abs=0.05)  # chance: 2 scales x 2 ln 2
    if isinstance(out, EnergyLoss):
        assert sum(losses[-10:]) / 10 < 0.7 * losses[0]
        measures = {k: float(v.detach()) for k, v in out.measures().items()}
        if kind == "ebgan":
            assert measures["energy_fake"] > 2 * measures["energy_real"], measures
        return
    assert sum(losses[-10:]) / 10 < losses[0] - 0.5 * abs(losses[0]) - 0.1
    if isinstance(out, CriticLoss):  # scores, no threshold: the distance estimate opened up
        assert float(out.measures()["critic_distance"].detach()) > 0.5
    else:
        assert float(out.accuracy()) > 0.9


# ----------------------------------------------------------------------------------------- f-GAN


def test_fgan_divergences_match_config():
    assert sorted(DIVERGENCES) == sorted(FGAN_DIVERGENCES)


@pytest.mark.parametrize("name", FGAN_DIVERGENCES)
def test_fgan_stable_forms_equal_the_textbook_forms(name):
    # Nowozin et al. 2016, Table 2: D's loss on real clips is -g_f(v), on generated ones f*(g_f(v)),
    # G's -g_f(v); wherever the textbook composition is finite (float64), the stable forms agree.
    # |v| <= 12: beyond, the textbook forms lose digits to cancellation (1 - t, 2 - e^t), the
    # reason for the stable ones.
    d = DIVERGENCES[name]
    v = torch.linspace(-12, 12, 601, dtype=torch.float64)
    t = d.activation(v)
    conj = d.conjugate(t)
    finite = torch.isfinite(t) & torch.isfinite(conj)
    assert finite.sum() > 100
    torch.testing.assert_close(d.d_real(v)[finite], -t[finite], rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(d.g(v)[finite], -t[finite], rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(d.d_fake(v)[finite], conj[finite], rtol=1e-7, atol=1e-9)
    # The decision threshold: the optimal critic's value f'(1) where P = Q.
    assert float(d.activation(torch.tensor(d.threshold, dtype=torch.float64))) == pytest.approx(d.f_prime_1)


@pytest.mark.parametrize("name", ["js", "gan", "hellinger", "reverse_kl"])
def test_fgan_stable_forms_stay_finite_where_the_textbook_ones_do_not(name):
    # Saturated outputs: log(1 + exp(-v)) and f*(g(v)) overflow or lose everything in the textbook
    # composition; the losses as used stay finite (the gradient of a saturated D must not be NaN).
    d = DIVERGENCES[name]
    v = torch.tensor([-80.0, -40.0, 40.0, 80.0], requires_grad=True)
    for loss in (d.d_real(v), d.g(v)):
        assert torch.isfinite(loss[2:]).all()  # a confident "real"
    fake = d.d_fake(v)
    assert torch.isfinite(fake[:2]).all()  # a confident "generated"
    (d.d_real(v[2:]).sum() + d.d_fake(v[:2]).sum()).backward()
    assert torch.isfinite(v.grad).all()


def test_fgan_threshold_is_the_divergences():
    kl = _objective("fgan", divergence="kl")
    out = kl.discriminator_loss(_FixedD([torch.tensor([[1.5], [0.5], [0.9], [2.0]])]), [torch.zeros(2, 1)],
                                [torch.zeros(2, 1)], torch.zeros(2, 1))
    # KL's critic answers "real" above v = 1: real 1.5 right, 0.5 wrong; generated 0.9 right, 2.0 wrong.
    assert out.threshold == 1.0 and float(out.accuracy()) == 0.5


# ------------------------------------------------------------------------------ Wasserstein GANs


class _AnalyticCritic:
    """D(ys, x) per scale: ``0.5 * |y|^2 + <w_k, y> + <v, x>`` summed per clip, so the gradient
    with respect to a judged clip y is ``y + w_k`` (different per clip) and x's term has none."""

    def __init__(self, ws, v):
        self.ws, self.v = ws, v

    def __call__(self, ys, x):
        xs = (x * self.v).flatten(1).sum(1, keepdim=True)
        return [(0.5 * y.square() + y * w).flatten(1).sum(1, keepdim=True) + xs for y, w in zip(ys, self.ws)]


def test_gradient_penalty_against_an_analytic_critic():
    torch.manual_seed(3)
    b = 4
    x = _clip(b, 4, 8, 8, seed=40)
    real = [_clip(b, 1, s, s, seed=41 + s) for s in (4, 8)]
    fake = [_clip(b, 1, s, s, seed=51 + s) for s in (4, 8)]
    ws = [0.3 * _clip(1, 1, s, s, seed=61 + s) for s in (4, 8)]
    D = _AnalyticCritic(ws, v=_clip(1, 4, 8, 8, seed=70))
    torch.manual_seed(7)
    out = _objective("wgan_gp", gp_weight=10.0).discriminator_loss(D, real, fake, x)
    torch.manual_seed(7)
    e = torch.rand(b).view(-1, 1, 1, 1, 1)  # the same draw: one coefficient per clip, every scale
    for k, (r, f, w) in enumerate(zip(real, fake, ws)):
        score = lambda y: (0.5 * y.square() + y * w).flatten(1).sum(1) + (x * D.v).flatten(1).sum(1)  # noqa: E731
        yhat = e * r + (1 - e) * f
        per_clip_norm = (yhat + w).flatten(1).norm(dim=1)  # d score / d yhat = yhat + w, one norm per clip
        expected = score(f).mean() - score(r).mean() + 10.0 * (per_clip_norm - 1).square().mean()
        torch.testing.assert_close(out.per_scale[k], expected, rtol=1e-5, atol=1e-5)
        # Not the common bug: one norm over the whole batch.
        whole_batch = 10.0 * ((yhat + w).norm() - 1).square()
        assert abs(float(whole_batch) - float(10.0 * (per_clip_norm - 1).square().mean())) > 1e-2
    assert set(out.measures()) == {"critic_distance"}


def test_gradient_penalty_of_a_linear_critic_is_known():
    # D(y) = <w, y>: the gradient is w for every clip and every interpolate, so the penalty is
    # gp_weight * (|w| - 1)^2 per scale whatever the mixing coefficients.
    w = torch.full((1, 1, 3, 4, 4), 0.5)  # |w| = 0.5 * sqrt(48)
    linear = lambda ys, x: [(ys[0] * w).flatten(1).sum(1, keepdim=True)]  # noqa: E731
    real, fake = [_clip(3, 1, 4, 4, seed=1)], [_clip(3, 1, 4, 4, seed=2)]
    out = _objective("wgan_gp", gp_weight=2.0).discriminator_loss(linear, real, fake, _clip(3, 4, 4, 4))
    distance = (real[0] * w).flatten(1).sum(1).mean() - (fake[0] * w).flatten(1).sum(1).mean()
    torch.testing.assert_close(out.per_scale[0], -distance + 2.0 * (0.5 * 48 ** 0.5 - 1) ** 2)


def test_wgan_clips_the_critic_after_each_update():
    torch.manual_seed(0)
    D = MultiScaleDiscriminator(4, 1, scales=2, width=0.1, patch=32)
    objective = _objective("wgan", clip=0.01)
    opt = torch.optim.RMSprop(D.parameters(), lr=0.1)  # a large step: the update leaves the box
    x, y = _clip(4, 4, 32, 32, seed=1), _clip(4, 1, 32, 32, seed=2)
    real, fake = [reference.gaussian_pyramid(y, 2)[1], y], [torch.zeros(4, 1, 3, 16, 16), torch.zeros_like(y)]
    objective.after_discriminator_step(D)
    opt.zero_grad()
    objective.discriminator_loss(D, real, fake, x).total.backward()
    opt.step()
    assert max(float(p.detach().abs().max()) for p in D.parameters()) > 0.01
    objective.after_discriminator_step(D)
    assert all(float(p.detach().abs().max()) <= 0.01 for p in D.parameters())
    assert any(float(p.detach().abs().max()) == pytest.approx(0.01) for p in D.parameters())


def test_critic_measure_is_the_distance_estimate():
    r, f = [torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [2.0]])], [torch.tensor([[-1.0], [0.0]])] * 2
    assert float(CriticLoss([], r, f).measures()["critic_distance"]) == pytest.approx((2 + 0.5) + (1 + 0.5))


# ------------------------------------------------------------------------------ energy-based GANs


class _FixedAutoencoder:
    """A fake autoencoder discriminator: per scale, reconstructions ``y + a_i`` (clip i of the
    call's batch offset by the constant ``a_i``, so its squared error is ``a_i^2`` and its absolute
    error ``|a_i|`` at every pixel) and fixed codes."""

    def __init__(self, offsets, codes):
        self.offsets, self.codes, self.calls = offsets, codes, []

    def __call__(self, ys, x):
        self.calls.append((x, list(ys)))
        return [(y + torch.tensor(a).view(-1, 1, 1, 1, 1), c.clone()) for y, a, c in zip(ys, self.offsets, self.codes)]


def _energy_batch(b):
    x = _clip(b, 4, 8, 8, seed=80)
    return x, [_clip(b, 1, s, s, seed=81 + s) for s in (4, 8)], [_clip(b, 1, s, s, seed=91 + s) for s in (4, 8)]


OFFSETS = [[0.1, -0.2, 0.05, 0.3, 0.4, -0.1, 0.25, 0.0], [0.0, 0.1, -0.1, 0.2, 0.3, 0.35, -0.05, 0.15]]  # real, then fake
CODES = [torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]] * 2)] * 2


def test_ebgan_losses_by_hand():
    margin, pt_weight = 0.05, 0.1
    x, real, fake = _energy_batch(4)
    D = _FixedAutoencoder(OFFSETS, CODES)
    objective = _objective("ebgan", margin=margin, pt_weight=pt_weight)
    out = objective.discriminator_loss(D, real, fake, x)
    assert len(D.calls) == 1 and torch.equal(D.calls[0][0], torch.cat([x, x]))
    for k, a in enumerate(OFFSETS):
        expected = sum(v * v for v in a[:4]) / 4 + sum(max(0.0, margin - v * v) for v in a[4:]) / 4
        assert float(out.per_scale[k]) == pytest.approx(expected, rel=1e-5)
    assert float(out.measures()["energy_real"]) == pytest.approx(sum(v * v for a in OFFSETS for v in a[:4]) / 4, rel=1e-5)
    # G: the generated clips' energy plus the pull-away term of their codes. Codes (1,0), (0,1),
    # (1,1), (2,0): squared cosines 0, 1/2, 1 | 1/2, 0 | 1/2, over 6 unordered pairs.
    pt = 2 * (0 + 0.5 + 1 + 0.5 + 0 + 0.5) / (4 * 3)
    D = _FixedAutoencoder([a[4:] for a in OFFSETS], [c[:4] for c in CODES])
    per_scale = objective.generator_loss(D, fake, x)
    for k, a in enumerate(OFFSETS):
        assert float(per_scale[k]) == pytest.approx(sum(v * v for v in a[4:]) / 4 + pt_weight * pt, rel=1e-5)


def test_pull_away_term_is_the_mean_squared_cosine_of_distinct_pairs():
    codes = torch.randn(5, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    total = sum(float(F.cosine_similarity(codes[i], codes[j], dim=0)) ** 2
                for i in range(5) for j in range(5) if i != j)
    assert float(pull_away(codes)) == pytest.approx(total / 20, rel=1e-6)
    assert float(pull_away(codes[:1])) == 0.0


def test_began_losses_and_k_by_hand():
    gamma, lambda_k = 0.5, 0.1
    x, real, fake = _energy_batch(4)
    objective = _objective("began", gamma=gamma, lambda_k=lambda_k)
    objective.load_state_dict({"k": torch.tensor(0.2)})
    out = objective.discriminator_loss(_FixedAutoencoder(OFFSETS, CODES), real, fake, x)
    l_real = [sum(abs(v) for v in a[:4]) / 4 for a in OFFSETS]
    for k, a in enumerate(OFFSETS):
        assert float(out.per_scale[k]) == pytest.approx(l_real[k] - 0.2 * sum(abs(v) for v in a[4:]) / 4, rel=1e-5)
    g_offsets = [[0.05, 0.05, -0.05, 0.05], [0.1, 0.0, 0.0, -0.1]]  # the generator's batch, after D's update
    per_scale = objective.generator_loss(_FixedAutoencoder(g_offsets, CODES), fake, x)
    l_fake = [sum(abs(v) for v in a) / 4 for a in g_offsets]
    assert [float(v) for v in per_scale] == pytest.approx(l_fake, rel=1e-5)
    measures = objective.after_generator_step()
    balance = gamma * sum(l_real) - sum(l_fake)  # energies summed over scales
    assert float(objective.k) == pytest.approx(0.2 + lambda_k * balance, rel=1e-5)
    assert float(measures["k"]) == float(objective.k)
    assert float(measures["convergence"]) == pytest.approx(sum(l_real) + abs(balance), rel=1e-5)
    assert objective.state_dict()["k"].device.type == "cpu"
    # k_t stays in [0, 1].
    objective.load_state_dict({"k": torch.tensor(0.999)})
    objective.discriminator_loss(_FixedAutoencoder(OFFSETS, CODES), real, fake, x)
    objective.generator_loss(_FixedAutoencoder([[0.0] * 4] * 2, CODES), fake, x)
    assert float(_objective("began", lambda_k=10.0).k) == 0.0 and float(objective.after_generator_step()["k"]) == 1.0


def test_stateless_objectives_refuse_state():
    assert _objective("bce").state_dict() == {}
    with pytest.raises(ValueError, match="keeps no state"):
        _objective("bce").load_state_dict({"k": torch.tensor(0.5)})


def test_autoencoder_discriminator_shapes():
    D = _discriminator("ebgan", 4, width=0.25)
    x, y = _clip(3, 4, 32, 32, seed=1), _clip(3, 1, 32, 32, seed=2)
    out = D(y, x)
    assert [tuple(rec.shape) for rec, _ in out] == [(3, 1, 3, s, s) for s in (4, 8, 16, 32)]
    assert all(code.shape == (3, 32) for _, code in out)
    # The reconstruction depends on the input frames too (the encoder sees them).
    other = D(y, _clip(3, 4, 32, 32, seed=3))
    assert not torch.allclose(out[-1][0], other[-1][0])
    with pytest.raises(ValueError, match="ys must hold 4 scales"):
        D([y], x)
