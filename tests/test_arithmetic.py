"""train.precision and train.channels_last: what they resolve to, what the steps do with them,
and that a run never resumes across a change of the resolved precision."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from cases import TEST_PARAMS, moving_squares, with_multiscale, write_clips

from pyext.config import OBJECTIVES, load_params
from pyext.data.dataset import to_model
from pyext.files import DataFiles, RunFiles
from pyext.presets import preset_params
from pyext.training import make_step, train
from pyext.training import arithmetic
from pyext.training.arithmetic import native_bfloat16, training_dtype

CPU = torch.device("cpu")


def _cpuinfo_bf16() -> bool | None:
    """What Linux says of the CPU's native bfloat16 (an independent reading); None off Linux."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), None)
    return None if flags is None else bool({"avx512_bf16", "amx_bf16"} & set(flags))


def test_native_bfloat16_agrees_with_the_cpus_flags():
    expected = _cpuinfo_bf16()
    if expected is None:
        pytest.skip("no /proc/cpuinfo to compare with")
    assert native_bfloat16(CPU) is expected
    assert native_bfloat16(torch.device("meta")) is False


def test_training_dtype_resolves_auto_per_machine(monkeypatch):
    assert training_dtype("float32", CPU) == torch.float32
    assert training_dtype("bfloat16", CPU) == torch.bfloat16
    for native, expected in ((True, torch.bfloat16), (False, torch.float32)):
        monkeypatch.setattr(arithmetic, "native_bfloat16", lambda device, native=native: native)
        assert training_dtype("auto", CPU) == expected
        assert training_dtype("bfloat16", CPU) == torch.bfloat16 and training_dtype("float32", CPU) == torch.float32


def _params(**train):
    p = load_params(TEST_PARAMS)
    settings = dict(steps=2, batch_size=4, optimizer="adam", lr_g=1e-3, lr_g_final=1e-3, lr_d=1e-3, lr_d_final=1e-3,
                    seed=3, device="cpu", workers=0, checkpoint_every=1, log_every=1, val_every=2, val_batches=1,
                    image_every=2, augment=(), colour_jitter=0.0)
    settings.update(train)
    return replace(with_multiscale(p, scales=2, width=0.05, skip="none"), train=replace(p.train, **settings))


def _batches(n: int) -> list[torch.Tensor]:
    """``n`` batches of 4 clips ``(4, 5, 3, 32, 32)``, as the loader gives them."""
    return list(to_model(moving_squares(4 * n, 5, seed=1)).contiguous().split(4))


def _updated(p, steps: int = 2):
    trainer = make_step(p, CPU)
    batches = _batches(trainer.batches_per_step)
    logged = [trainer.step(i, batches) for i in range(steps)]
    return trainer, logged


def test_channels_last_stores_the_weights_so_and_keeps_the_arithmetic():
    plain, logged = _updated(_params())
    last, logged_last = _updated(_params(channels_last=True))
    convs = [m.weight for m in last.G.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous() for w in convs)
    assert all(m.weight.is_contiguous() for m in plain.G.modules() if isinstance(m, torch.nn.Conv2d))
    # The same sums in another order: the same training to float32 rounding, not the same bits.
    for a, b in zip(plain.G.state_dict().values(), last.G.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    for k in ("train/loss_g", "train/loss_d"):
        torch.testing.assert_close(logged[-1][k], logged_last[-1][k], rtol=1e-4, atol=1e-6)


def test_bfloat16_runs_the_predictor_under_autocast_close_to_float32():
    single, logged = _updated(_params(), steps=1)
    half, logged_half = _updated(_params(precision="bfloat16"), steps=1)
    assert single.dtype == torch.float32 and half.dtype == torch.bfloat16
    # The first step's losses (before any update differs): bfloat16's 8-bit mantissa, not float32's.
    for k in ("train/loss_g", "train/loss_d"):
        a, b = float(logged[0][k]), float(logged_half[0][k])
        assert a != b and abs(a - b) <= 0.05 * abs(a), (k, a, b)
    # The weights and their optimiser stay float32 (autocast casts copies).
    assert all(w.dtype == torch.float32 for w in half.G.parameters())
    seen = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, out: seen.append(out.dtype) if isinstance(module, torch.nn.Conv2d) else None)
    try:
        half.step(1, _batches(half.batches_per_step))
    finally:
        handle.remove()
    assert seen and set(seen) == {torch.bfloat16}


def test_gaia_computes_its_errors_in_the_chosen_precision():
    p = preset_params(Path(__file__).resolve().parents[1] / "configs" / "gaia.yaml", TEST_PARAMS)
    x = _batches(1)[0]
    errors = {}
    for setting in ("float32", "bfloat16"):
        q = replace(p, train=replace(p.train, precision=setting, channels_last=setting == "bfloat16", batch_size=4))
        step = make_step(q, CPU)
        assert step.dtype == getattr(torch, setting)
        seen = []
        handle = torch.nn.modules.module.register_module_forward_hook(
            lambda module, args, out: seen.append(out.dtype) if isinstance(module, torch.nn.Conv2d) else None)
        try:
            errors[setting] = float(step.errors(step.model.samples(x)).real.detach())
        finally:
            handle.remove()
        assert seen and set(seen) == {getattr(torch, setting)}
    # The same weights (seeded alike), the same errors to bfloat16's precision.
    assert errors["float32"] != errors["bfloat16"]
    assert abs(errors["float32"] - errors["bfloat16"]) <= 0.05 * abs(errors["float32"])


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    write_clips(d / "train.h5", moving_squares(16, 5, seed=0))
    write_clips(d / "val.h5", moving_squares(8, 5, seed=1))
    return d


def test_a_run_never_resumes_across_a_change_of_the_resolved_precision(data_dir, tmp_path, capsys, monkeypatch):
    params = _params(precision="auto")
    run = RunFiles(tmp_path / "run")
    monkeypatch.setattr(arithmetic, "native_bfloat16", lambda device: False)
    train(params, DataFiles(data_dir), run, progress=False)
    assert torch.load(run.checkpoint, weights_only=True)["dtype"] == "float32"
    first = run.checkpoint.read_bytes()
    # The same params on a machine where auto means bfloat16: trained afresh, the old one kept.
    monkeypatch.setattr(arithmetic, "native_bfloat16", lambda device: True)
    again = train(params, DataFiles(data_dir), run, progress=False)
    assert again["resumed_from"] == 0
    [kept] = sorted(run.stale.iterdir())
    assert kept.read_bytes() == first
    assert f"{run.checkpoint} was trained with another precision; starting afresh" in capsys.readouterr().out
    assert torch.load(run.checkpoint, weights_only=True)["dtype"] == "bfloat16"
    assert train(params, DataFiles(data_dir), run, progress=False)["resumed_from"] == 2


@pytest.mark.parametrize("kind", sorted(OBJECTIVES))
def test_every_objective_trains_under_bfloat16_and_channels_last(kind):
    # WGAN-GP's penalty differentiates through D twice, BEGAN's k_t and the energy-based objectives'
    # autoencoder D read D's outputs: each must stay finite and move the weights in bfloat16.
    p = _params(precision="bfloat16", channels_last=True)
    p = replace(p, loss=replace(p.loss, adversarial=replace(p.loss.adversarial, kind=kind)))
    trainer = make_step(p, CPU)
    before = {net: [w.detach().clone() for w in net.parameters()] for net in (trainer.G, trainer.D)}
    batches = _batches(trainer.batches_per_step)
    for i in range(2):
        logged = trainer.step(i, batches)
    assert not trainer.nonfinite.item() and all(torch.isfinite(v).all() for v in logged.values())
    for net, weights in before.items():
        assert all(w.dtype == torch.float32 for w in net.parameters())
        assert any(not torch.equal(a, b) for a, b in zip(weights, net.parameters()))
