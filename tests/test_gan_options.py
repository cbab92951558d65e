"""The GAN options of the networks and losses: SAGAN's attention block, SN-GAN's spectral norm,
DCGAN's batch norm (real and generated clips apart), the feature-space loss (DeePSiM; VAE-GAN's
learned similarity) with both comparators, DeePSiM's pause of D, and the refused combinations."""
from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch
from cases import TEST_PARAMS, with_multiscale
from torch import nn

from pyext.config import ParamsError, load_params, parse_params
from pyext.losses import make_comparator
from pyext.models import MultiScaleDiscriminator, MultiScaleGenerator, generator_file, load_generator
from pyext.models.autoencoder import AutoencoderDiscriminator
from pyext.models.blocks import SelfAttention, SplitBatchNorm2d, set_batch_groups
from pyext.training import make_step

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _clip(b, t, h, w, seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand((b, t, 3, h, w), generator=gen, dtype=torch.float64) * 2 - 1).to(dtype)


def _params(model=None, loss=None, adversarial=None, comparator=None, **train):
    """The test params with a tiny predictor (2 scales, width 0.05) and the given changes."""
    p = with_multiscale(load_params(TEST_PARAMS), scales=2, width=0.05, skip="none")
    settings = dict(steps=4, batch_size=4, optimizer="adam", betas=(0.5, 0.999), lr_g=1e-3, lr_g_final=1e-3,
                    lr_d=1e-3, lr_d_final=1e-3, seed=3, device="cpu", compile=False, augment=(), colour_jitter=0.0)
    settings.update(train)
    loss_ = replace(p.loss, **(loss or {}))
    loss_ = replace(loss_, adversarial=replace(loss_.adversarial, **(adversarial or {})),
                    comparator=replace(loss_.comparator, **(comparator or {})))
    return replace(p, model=replace(p.model, **(model or {})), loss=loss_, train=replace(p.train, **settings))


# ------------------------------------------------------------------------------------- attention


def test_attention_block_by_hand_starts_as_identity_and_passes_gradients():
    torch.manual_seed(0)
    block = SelfAttention(16).double()
    x = torch.randn(2, 16, 3, 5, dtype=torch.float64)
    assert torch.equal(block(x), x)  # gamma starts at 0
    with torch.no_grad():
        block.gamma.fill_(0.7)
    # By hand, in numpy: queries f, keys g, values h per position, softmax over keys.
    xs = x.numpy().reshape(2, 16, 15)
    wf, wg, wh, wv = (m.weight.detach().numpy()[:, :, 0, 0] for m in (block.f, block.g, block.h, block.v))
    expected = np.empty_like(xs)
    for b in range(2):
        f, g, h = wf @ xs[b], wg @ xs[b], wh @ xs[b]  # (C', N)
        logits = f.T @ g  # (N_i, N_j)
        beta = np.exp(logits - logits.max(axis=1, keepdims=True))
        beta /= beta.sum(axis=1, keepdims=True)
        expected[b] = xs[b] + 0.7 * (wv @ (h @ beta.T))
    np.testing.assert_allclose(block(x).detach().numpy().reshape(2, 16, 15), expected, rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(block, (x[:1, :, :2, :3].clone().requires_grad_(),))
    block(x).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in block.parameters())


def test_generator_attention_only_at_coarse_scales_and_a_full_frame_prediction_runs():
    G = MultiScaleGenerator(4, 1, scales=4, width=0.05, skip="last_frame", attention=True)
    has = [any(isinstance(m, SelfAttention) for m in net.modules()) for net in G.nets]
    assert has == [True, True, False, False]  # 1/8 and 1/4 of the size; not 1/2 or full
    with torch.no_grad():
        for m in G.modules():
            if isinstance(m, SelfAttention):
                m.gamma.fill_(0.5)
        y = G.predict(_clip(1, 4, 240, 320, seed=1), 1)  # the demo's test frames: 30x40, 60x80 attended
    assert y.shape == (1, 1, 3, 240, 320) and torch.isfinite(y).all()
    D = MultiScaleDiscriminator(4, 1, scales=2, width=0.05, patch=32, attention=True)
    assert sum(isinstance(m, SelfAttention) for m in D.modules()) == 2  # one per scale


# ------------------------------------------------------------------------------- normalisations


def test_spectral_norm_keeps_each_layers_largest_singular_value_near_one():
    torch.manual_seed(0)
    plain = MultiScaleDiscriminator(4, 1, scales=2, width=0.25, patch=32)
    D = MultiScaleDiscriminator(4, 1, scales=2, width=0.25, patch=32, norm="spectral")
    x, y = _clip(4, 4, 32, 32), _clip(4, 1, 32, 32, seed=1)
    for _ in range(30):  # one power iteration per training forward
        D(y, x)
    layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    sigmas = [float(torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)) for m in layers]
    assert sigmas == pytest.approx([1.0] * len(sigmas), abs=0.02)
    raw = [float(torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2))
           for m in plain.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert max(abs(s - 1) for s in raw) > 0.1  # without it they are not
    assert all(hasattr(m, "parametrizations") for m in AutoencoderDiscriminator(4, 1, 2, 0.1, 32, "spectral").modules()
               if isinstance(m, (nn.Conv2d, nn.Linear)))


def test_split_batch_norm_normalises_each_kind_as_separate_forwards_do():
    torch.manual_seed(0)
    split, plain = SplitBatchNorm2d(3), nn.BatchNorm2d(3)
    split.group = 4
    real, fake = torch.randn(4, 3, 5, 5) * 3 + 1, torch.randn(4, 3, 5, 5) - 2
    out = split(torch.cat([real, fake]))
    expected = torch.cat([plain(real), plain(fake)])
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(split.running_mean, plain.running_mean)
    torch.testing.assert_close(split.running_var, plain.running_var)
    assert not torch.allclose(out, nn.BatchNorm2d(3)(torch.cat([real, fake])))  # one batch mixes the kinds
    with pytest.raises(ValueError, match="groups of 4 samples, got a batch of 6"):
        split(torch.randn(6, 3, 5, 5))
    D = MultiScaleDiscriminator(4, 1, scales=2, width=0.1, patch=32, norm="batch")
    set_batch_groups(D, 2)
    norms = [m for m in D.modules() if isinstance(m, SplitBatchNorm2d)]
    assert len(norms) == 2 + 3 and all(m.group == 2 for m in norms)  # 3 and 4 convolutions, the first without
    assert [z.shape for z in D(_clip(4, 1, 32, 32), _clip(4, 4, 32, 32))] == [(4, 1), (4, 1)]


# ------------------------------------------------------------------------------ feature loss


class _Linear(nn.Module):
    """A comparator with known features: the frames twice, and a 1x1 convolution of them."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)

    def forward(self, frames: torch.Tensor) -> list[torch.Tensor]:
        return [2 * frames, self.conv(frames)]


@pytest.fixture
def scripted(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "comparator.pt"
    with warnings.catch_warnings():  # torch 2.14 deprecates TorchScript, the format the option reads
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(_Linear()).save(str(path))
    return path


def test_file_comparator_loss_and_gradient_by_hand_and_its_weights_frozen(scripted):
    params = _params(loss={"feature": 1.0}, comparator={"kind": "file", "file": str(scripted), "layers": (1,)})
    comparator = make_comparator(params.loss.comparator, None, 16, torch.device("cpu"))
    pred = _clip(2, 1, 16, 16, seed=1, dtype=torch.float64).requires_grad_()
    truth = _clip(2, 1, 16, 16, seed=2, dtype=torch.float64)
    loss = comparator(pred, truth)
    value = float(loss.detach())
    # layer 1 is 2 * frames on [0, 1]: 2 (p + 1) / 2 - 2 (t + 1) / 2 = p - t
    assert value == pytest.approx(float(((pred - truth) ** 2).mean()), rel=1e-6)  # float32 features
    loss.backward()
    torch.testing.assert_close(pred.grad, 2 * (pred - truth).detach() / pred.numel(), rtol=1e-5, atol=1e-9)
    # Both outputs, and a pyramid's full-size frames; the module's weights take no gradient.
    both = make_comparator(replace(params.loss.comparator, layers=(1, -1)), None, 16, torch.device("cpu"))
    pyramid = [pred[..., ::2, ::2], pred]
    total = both(pyramid, truth)
    total.backward()
    module = both.module
    assert all(not p.requires_grad and p.grad is None for p in module.parameters())
    conv = lambda v: module.conv(((v + 1) / 2).flatten(0, 1).float()).double()  # noqa: E731
    assert float(total) == pytest.approx(float(((pred - truth) ** 2).mean() + ((conv(pred) - conv(truth)) ** 2).mean()),
                                         rel=1e-5)


class _Faulty(nn.Module):
    """A comparator whose second output is broken: constant, integer, or NaN where a frame is dark."""

    def __init__(self, fault: str):
        super().__init__()
        self.fault = fault

    def forward(self, frames: torch.Tensor) -> list[torch.Tensor]:
        pooled = nn.functional.adaptive_avg_pool2d(frames, 2)
        if self.fault == "constant":
            broken = torch.ones_like(pooled)
        elif self.fault == "integer":
            broken = (pooled * 10).long()
        else:
            broken = torch.where(pooled < 0.5, torch.full_like(pooled, float("nan")), pooled)
        return [pooled, broken]


@pytest.mark.parametrize("fault,problem", [("constant", "is the same for a blank frame and a textured one"),
                                           ("integer", "holds integers"), ("nan", r"is not finite \(NaN or inf\)")])
def test_a_comparator_file_whose_features_are_useless_is_refused_at_load(tmp_path, fault, problem):
    # A constant or integer output trained "fine" with a zero feature loss; a NaN stopped training
    # with advice to lower the learning rates.
    path = tmp_path / "faulty.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(_Faulty(fault)).save(str(path))
    params = _params(loss={"feature": 1.0}, comparator={"kind": "file", "file": str(path), "layers": (1, 2)})
    with pytest.raises(ParamsError, match=rf"^params.yaml: loss.comparator.file: {path}: its output 2 {problem}"):
        make_comparator(params.loss.comparator, None, 16, torch.device("cpu"))
    make_comparator(replace(params.loss.comparator, layers=(1,)), None, 16, torch.device("cpu"))  # output 1 is fine


def test_discriminator_comparator_compares_ds_hidden_layers():
    torch.manual_seed(0)
    D = MultiScaleDiscriminator(4, 1, scales=2, width=0.1, patch=32)
    params = _params(loss={"feature": 1.0}, comparator={"layers": (1, -1)})
    comparator = make_comparator(params.loss.comparator, D, 32, torch.device("cpu"))
    x, pred, truth = _clip(2, 4, 32, 32), _clip(2, 1, 32, 32, seed=1), _clip(2, 1, 32, 32, seed=2)
    # By hand: scale 1 (16x16, 3 convolutions) layers 1 and 3, scale 2 (32x32, 4) layers 1 and 4.
    expected = 0.0
    for k, net in enumerate(D.nets):
        inputs = D.pyramids(pred, x)
        a = torch.cat([inputs[0][k].flatten(1, 2), inputs[1][k].flatten(1, 2)], dim=1)
        inputs_t = D.pyramids(truth, x)
        b = torch.cat([inputs_t[0][k].flatten(1, 2), inputs_t[1][k].flatten(1, 2)], dim=1)
        convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
        ha, hb, outs = a, b, []
        for conv in convs:
            ha, hb = torch.relu(conv(ha)), torch.relu(conv(hb))
            outs.append((ha, hb))
        expected += float(((outs[0][0] - outs[0][1]) ** 2).mean() + ((outs[-1][0] - outs[-1][1]) ** 2).mean())
    assert float(comparator(pred, truth, x)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ParamsError, match=r"loss.comparator.layers: the discriminator's scale 1 has 3 layers "
                                          r"\(1..3, or -3..-1\), asked for 4"):
        make_comparator(replace(params.loss.comparator, layers=(4,)), D, 32, torch.device("cpu"))


def test_feature_loss_moves_g_only(data_dir):
    # One step with and without the feature term: D's update comes first and the term gives D no
    # gradient, so D's weights are the same; G's differ.
    runs = {}
    for weight in (0.0, 10.0):
        step = make_step(_params(loss={"feature": weight}), torch.device("cpu"))
        torch.manual_seed(1)
        batches = [_clip(4, 5, 32, 32, seed=s) for s in range(step.batches_per_step)]
        logged = step.step(0, batches)
        runs[weight] = (step, logged)
    (plain, _), (featured, logged) = runs[0.0], runs[10.0]
    assert float(logged["train/feature"]) > 0 and "train/feature" not in runs[0.0][1]
    for a, b in zip(plain.D.state_dict().values(), featured.D.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(plain.D.parameters(), featured.D.parameters()):  # D's gradients: its own update's only
        assert torch.equal(a.grad, b.grad)
    assert any(not torch.equal(a, b) for a, b in zip(plain.G.state_dict().values(), featured.G.state_dict().values()))


def test_gaia_takes_the_feature_loss_and_spectral_norm_and_saves_them(tmp_path, scripted):
    params = _params(model={"family": "gaia", "d_norm": "spectral"}, loss={"feature": 1.0}, comparator={"layers": (1, 2)})
    step = make_step(params, torch.device("cpu"))
    logged = step.step(0, [_clip(4, 5, 32, 32)])
    assert float(logged["train/feature"]) > 0
    assert all(hasattr(m, "parametrizations") for m in step.model.discriminator.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear)))
    torch.save(generator_file(step.model), tmp_path / "gaia.pt")
    loaded = load_generator(tmp_path / "gaia.pt")
    assert loaded.d_norm == "spectral" and loaded.state_dict().keys() == step.model.state_dict().keys()
    x = _clip(2, 5, 32, 32, seed=4)
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval().judge(x), step.model.eval().judge(x))
    filed = replace(params, loss=replace(params.loss, comparator=replace(params.loss.comparator, kind="file",
                                                                         file=str(scripted), layers=(-1,))))
    assert float(make_step(filed, torch.device("cpu")).step(0, [_clip(4, 5, 32, 32)])["train/feature"]) > 0


# ------------------------------------------------------------------------------ DeePSiM's pause


def test_pause_skips_ds_updates_while_its_loss_ratio_is_below_the_threshold():
    def run(pause):
        step = make_step(_params(adversarial={"d_pause": pause}), torch.device("cpu"))
        torch.manual_seed(1)
        out = []
        for s in range(2):
            before = [t.clone() for t in step.D.state_dict().values()]
            logged = step.step(s, [_clip(4, 5, 32, 32, seed=10 * s + j) for j in range(step.batches_per_step)])
            moved = any(not torch.equal(a, b) for a, b in zip(before, step.D.state_dict().values()))
            out.append((logged, moved))
        return step, out

    _, never = run(0.0)
    assert [moved for _, moved in never] == [True, True] and "train/d_paused" not in never[0][0]
    step, always = run(1e9)
    (first, moved1), (second, moved2) = always
    assert moved1 and not moved2  # the first step has no ratio yet; the second reads the first's
    assert float(first["train/d_paused"]) == 0 and float(second["train/d_paused"]) == 1
    adv = sum(float(first[f"train/adv/scale{k}"]) for k in (1, 2))
    assert float(first["train/d_ratio"]) == pytest.approx(float(first["train/loss_d"]) / adv, rel=1e-5)
    assert step.state()["d_ratio"] == pytest.approx(float(second["train/d_ratio"]))
    resumed = make_step(_params(adversarial={"d_pause": 1e9}), torch.device("cpu"))
    resumed.load_state(step.state())
    assert resumed.ratio == step.ratio and math.isfinite(resumed.ratio)


# ----------------------------------------------------------------------- refused combinations


def _raw():
    import yaml
    return yaml.safe_load(TEST_PARAMS.read_text())


@pytest.mark.parametrize("change,key,problem", [
    ({"model": {"d_norm": "batch"}, "adversarial": {"kind": "wgan_gp"}}, "model.d_norm",
     "its gradient penalty is per clip"),
    ({"model": {"d_norm": "batch"}, "adversarial": {"kind": "began"}}, "model.d_norm",
     "its autoencoder discriminator has no batch norm"),
    ({"model": {"attention": True}, "adversarial": {"kind": "ebgan"}}, "model.attention",
     "its autoencoder discriminator has none"),
    ({"model": {"family": "gaia", "attention": True}}, "model.attention", "model.family: gaia"),
    ({"model": {"family": "gaia", "d_norm": "batch"}}, "model.d_norm", "model.family: gaia"),
    ({"adversarial": {"kind": "wgan", "d_pause": 0.1}}, "loss.adversarial.d_pause", "two positive losses"),
    ({"adversarial": {"d_pause": 0.1}, "loss": {"adv": 0.0}}, "loss.adversarial.d_pause", "no discriminator"),
    ({"loss": {"adv": 0.0, "feature": 1.0}}, "loss.comparator.kind", "its layers would stay random"),
    ({"comparator": {"kind": "file"}}, "loss.comparator.file", "a TorchScript file"),
    ({"comparator": {"kind": "file", "file": "nowhere.pt"}}, "loss.comparator.file", "no such file"),
    ({"comparator": {"layers": [0]}}, "loss.comparator.layers", "distinct non-zero ints"),
    ({"model": {"d_norm": "layer"}}, "model.d_norm", "one of none, spectral, batch"),
    ({"model": {"family": "gaia", "condition": "concat"}}, "model.condition", "its autoencoders take no class"),
    ({"model": {"condition": "acgan"}, "adversarial": {"kind": "ebgan"}}, "model.condition",
     "its autoencoder discriminator has no class input or head"),
    ({"model": {"condition": "concat"}, "adversarial": {"kind": "began"}}, "model.condition",
     "its autoencoder discriminator has no class input or head"),
    ({"model": {"condition": "acgan"}, "loss": {"adv": 0.0}}, "model.condition", "the class head is the discriminator's"),
])
def test_bad_combinations_stop_with_one_line_naming_the_key(tmp_path, change, key, problem):
    raw = _raw()
    raw["model"].update(change.get("model", {}))
    raw["loss"].update(change.get("loss", {}))
    raw["loss"]["adversarial"].update(change.get("adversarial", {}))
    raw["loss"]["comparator"].update(change.get("comparator", {}))
    with pytest.raises(ParamsError) as info:
        parse_params(raw, tmp_path / "params.yaml")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'params.yaml'}: {key}: ") and problem in message, message
    assert "\n" not in message


def test_a_file_that_is_no_torchscript_stops_with_one_line(tmp_path):
    bad = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(2)}, bad)  # a pickle, not a TorchScript archive
    params = _params(loss={"feature": 1.0}, comparator={"kind": "file", "file": str(bad)})
    with pytest.raises(ParamsError, match=r"^params.yaml: loss.comparator.file: not a TorchScript module: "):
        make_step(params, torch.device("cpu"))


def test_a_replaced_comparator_file_changes_the_runs_identity(scripted):
    from pyext.training import params_hash
    params = _params(loss={"feature": 1.0}, comparator={"kind": "file", "file": str(scripted)})
    before = params_hash(params)
    assert params_hash(params) == before
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(_Linear()).save(str(scripted))  # other random weights, the same path
    assert params_hash(params) != before
