"""What the tests share: their own params file; a tiny copy of the pipeline to run stages in;
devices, dtypes and tolerances of the op tests."""
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from pyext.data.store import ClipWriter

# The tests' params: a frozen copy of params.yaml (its defaults are tuned; the tests' numbers stay).
TEST_PARAMS = Path(__file__).with_name("params.yaml")

HAS_CUDA = torch.cuda.is_available()
REPO = Path(__file__).resolve().parents[1]


def run_in(args: list[str], cwd: Path, check: bool = True, env: dict[str, str] | None = None):
    """Runs a command in a pipeline copy (its code first on the path, this Python's tools on PATH);
    with ``check``, a failure raises with the command's output."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(cwd), **(env or {})}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed:\n{result.stdout}\n{result.stderr}")
    return result


def two_processes(script: str, folder: Path, port: int) -> subprocess.CompletedProcess:
    """Runs the Python source ``script`` as 2 CPU processes of a distributed run (``torchrun``, gloo:
    the script initialises its process group) in ``folder``, with the tests' params file as its
    argument; fails with the processes' errors where they fail. ``port``: the rendezvous's, one per
    test, so that tests running side by side do not meet."""
    path = folder / "two_processes.py"
    path.write_text(script)
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", str(port), str(path),
                           str(TEST_PARAMS)], cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def set_params(workdir: Path, **changes) -> None:
    """Edits ``workdir/params.yaml``: ``section__key=value`` sets ``section.key``."""
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    for dotted, value in changes.items():
        *sections, key = dotted.split("__")
        mapping = params
        for name in sections:
            mapping = mapping[name]
        mapping[key] = value
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def tiny_pipeline(work: Path) -> Path:
    """A copy of the pipeline in ``work`` (code with its built extension, dvc.yaml, the tests'
    params) set to a tiny demo set and a 4-step training of a tiny model."""
    for name in ("dvc.yaml", "setup.py"):
        shutil.copy(REPO / name, work / name)
    shutil.copy(TEST_PARAMS, work / "params.yaml")
    for folder in ("pyext", "pipeline", "csrc"):  # pyext with its built extension
        shutil.copytree(REPO / folder, work / folder, ignore=shutil.ignore_patterns("__pycache__"))
    set_params(work, demo__classes=2, demo__groups=3, demo__test_groups=1, demo__clips_per_group=1, demo__frames=12,
               filter__val_fraction=0.5, filter__min_kept=8, model__multiscale__scales=2,
               model__multiscale__width=0.05, train__steps=4, train__batch_size=1, train__workers=0,
               train__checkpoint_every=2, train__log_every=1, train__val_every=2, train__image_every=4,
               train__val_batches=1, evaluate__pictures=1)
    return work


def with_multiscale(params, **knobs):
    """``params`` with the keys of ``model.multiscale`` in ``knobs`` replaced (scales, width, skip)."""
    model = params.model
    return replace(params, model=replace(model, multiscale=replace(model.multiscale, **knobs)))
_CUDA_MARKS = [pytest.mark.cuda, pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")]


def dtypes_for(device: str) -> list[torch.dtype]:
    """The dtypes the native kernels take on a device (CUDA adds float16 and bfloat16)."""
    low = [torch.float16, torch.bfloat16] if device == "cuda" else []
    return [torch.float32, torch.float64] + low


def _marks(device: str) -> list:
    return _CUDA_MARKS if device == "cuda" else []


DEVICES = [pytest.param(d, marks=_marks(d), id=d) for d in ("cpu", "cuda")]
DEVICE_DTYPES = [
    pytest.param(d, t, marks=_marks(d), id=f"{d}-{str(t).removeprefix('torch.')}")
    for d in ("cpu", "cuda")
    for t in dtypes_for(d)
]

# (rtol, atol) of a native result against the float64 reference, per input dtype.
TOLERANCE = {
    torch.float64: (1e-10, 1e-10),
    torch.float32: (2e-5, 2e-5),
    torch.float16: (2e-2, 2e-2),
    torch.bfloat16: (5e-2, 5e-2),
}


# Axis lengths that put pyramid outputs in one tile and in many, with border and interior tiles.
PYRAMID_AXES = [1, 2, 3, 4, 5, 7, 16, 17, 33, 40, 67, 101]
# The pyramid ops by the kernels' resampling kind (csrc/pyramid/pyramid_taps.h).
PYRAMID_KINDS = {"pyr_down": 0, "pyr_up": 1, "pyr_down_backward": 2, "pyr_up_backward": 3}


def pyramid_output_sizes(op: str, n: int) -> list[int]:
    """The output lengths that pyramid op ``op`` takes for an axis of ``n`` inputs."""
    return {"pyr_down": [(n + 1) // 2], "pyr_up": [2 * n - 1, 2 * n], "pyr_up_backward": [(n + 1) // 2],
            "pyr_down_backward": [m for m in (2 * n - 1, 2 * n) if m >= 1]}[op]


def pyramid_op(op: str, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """torch.ops.beyondmse.<op> on x with the output size (height, width)."""
    native = getattr(torch.ops.beyondmse, op)
    return native(x) if op == "pyr_down" else native(x, height, width)


def assert_close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype, scale: float = 1.0):
    """Compares with the tolerance of ``dtype``; ``scale`` widens atol for sums of many terms."""
    rtol, atol = TOLERANCE[dtype]
    torch.testing.assert_close(actual.double().cpu(), expected.double().cpu(), rtol=rtol, atol=atol * scale)


def moving_squares(n: int, frames: int, seed: int) -> np.ndarray:
    """uint8 clips (n, frames, 32, 32, 3): a textured square moving at a constant velocity over a
    textured background."""
    rng = np.random.default_rng(seed)
    clips = np.empty((n, frames, 32, 32, 3), np.uint8)
    for i in range(n):
        background = rng.integers(0, 120, (32, 32, 3))
        square = rng.integers(130, 256, (10, 10, 3))
        y, x = rng.integers(9, 14, 2)  # the square stays inside over 5 frames
        vy, vx = rng.integers(-2, 3, 2)
        for t in range(frames):
            frame = background.copy()
            top, left = y + vy * t, x + vx * t
            frame[top:top + 10, left:left + 10] = square
            clips[i, t] = frame
    return clips


def write_clips(path: Path, clips: np.ndarray) -> None:
    """A clip store of ``clips`` (N, T, H, W, 3) uint8, as filter writes train.h5 (one video)."""
    n = len(clips)
    with ClipWriter(path, clips.shape[1:], ["synthetic"], {"params": {}}) as w:
        w.append(clips, motion=np.ones(n, np.float32), video=np.zeros(n, np.int32), start=np.zeros(n, np.int32),
                 yx=np.zeros((n, 2), np.int16), label=np.zeros(n, np.int16))


def saved_weights(path: Path, key: str = "state_dict") -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)[key]


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


# Each family of a generator from noise with the knobs of its section (model.<family>) at a tiny size.
TINY_GENERATORS = {"dcgan": {"latent": 8, "width": 0.125}, "lapgan": {"latent": 8, "width": 0.0625},
                   "vaegan": {"latent": 8, "width": 0.125},
                   # BigGAN's average starts at once and its standing statistics take 2 batches (runs of a few steps).
                   "biggan": {"latent": 8, "width": 0.0625, "ema_start": 1, "standing": 2},
                   "gran": {"latent": 4, "steps": 2, "width": 0.0625}}
# IcGAN's: class-conditioned on the stochastic set, so not among TINY_GENERATORS (whose pipeline test runs on the
# demo set, which it refuses); its encoders train from update 2 of the 4 (icgan_params).
TINY_ICGAN = {"latent": 8, "width": 0.125, "encoder_from": 2}
# DeePSiM's inversion's: not a generator from noise, so not among TINY_GENERATORS (whose evaluation it has not).
TINY_INVERSION = {"layer": 3, "comparator_layer": 2, "width": 0.125, "adversarial_weight": 0.5}


# The translators' knobs (model.<family>) at a tiny size, and their papers' objectives.
TINY_TRANSLATORS = {"cyclegan": {"blocks": 1, "width": 0.0625, "pool": 2}, "discogan": {"width": 0.0625},
                    "dualgan": {"width": 0.0625}}
TRANSLATOR_KINDS = {"cyclegan": "lsgan", "discogan": "bce", "dualgan": "wgan"}


def translator_params(family: str, knobs: dict | None = None, kind: str | None = None, **train_settings):
    """:func:`family_params` of a translator (:data:`TINY_TRANSLATORS`, ``knobs`` replaced; its paper's objective
    unless ``kind``), domain B the photo set."""
    p = family_params(family, TINY_TRANSLATORS[family] | (knobs or {}), kind or TRANSLATOR_KINDS[family],
                      **train_settings)
    return replace(p, data=replace(p.data, translate=replace(p.data.translate, source="photos")))


def family_params(family: str, knobs: dict, kind: str = "bce", **train_settings):
    """The tests' params training ``family`` (a generator from noise) with ``knobs`` of its section
    (``model.<family>``), the objective ``kind``, and a tiny CPU run (4 steps of batch 4, a checkpoint
    every 2) with ``train_settings`` replaced."""
    from pyext.config import load_params

    p = load_params(TEST_PARAMS)
    settings = dict(steps=4, batch_size=4, seed=3, device="cpu", compile=False, workers=0, checkpoint_every=2,
                    log_every=1, val_every=2, val_batches=1, image_every=2, keep="best")
    settings.update(train_settings)
    section = replace(getattr(p.model, family), **knobs)
    return replace(p, model=replace(p.model, family=family, **{family: section}), train=replace(p.train, **settings),
                   loss=replace(p.loss, adversarial=replace(p.loss.adversarial, kind=kind)))


def icgan_params(kind: str = "bce", knobs: dict | None = None, **train_settings):
    """:func:`family_params` of IcGAN (:data:`TINY_ICGAN`, ``knobs`` replaced) on the stochastic set, its cGAN
    conditioned by concat."""
    p = family_params("icgan", TINY_ICGAN | (knobs or {}), kind, **train_settings)
    return replace(p, data=replace(p.data, source="stochastic"), model=replace(p.model, condition="concat"))


def labelled_data(folder: Path) -> Path:
    """``folder`` with ``train.h5`` (24 clips of moving squares) and ``val.h5`` (6) labelled round three classes
    and a stochastic set's manifest naming them."""
    from pyext.data.manifest import Manifest, write_manifest

    folder.mkdir(parents=True, exist_ok=True)
    for name, n, seed in (("train.h5", 24, 1), ("val.h5", 6, 2)):
        with ClipWriter(folder / name, (5, 32, 32, 3), ["a.avi"], {"params": {}}) as w:
            w.append(moving_squares(n, 5, seed), motion=np.ones(n, np.float32), video=np.zeros(n, np.int32),
                     start=np.zeros(n, np.int32), yx=np.zeros((n, 2), np.int16),
                     label=(np.arange(n) % 3).astype(np.int16))  # three classes
    write_manifest(folder / "manifest.json", Manifest("stochastic", "videos", 0, ["Discs", "Squares", "Triangles"]))
    return folder


def assert_resumes_exactly(params, data_dir: Path, work: Path, networks: tuple[str, ...] = ("discriminator",),
                           classes: int = 0, optimizers: tuple[str, ...] = ("opt_g", "opt_d")) -> None:
    """Trains ``params`` (a generator from noise's family, whose checkpoint holds its generator,
    ``networks`` and optimisers) uninterrupted into ``work/a`` and stopped at half its steps then
    resumed into ``work/b``; asserts the saved generators, the checkpoints' ``networks`` and both
    optimisers' states are equal bit for bit, that a run of half the steps is not the whole (the comparison can
    fail), that nothing was validated, and that the saved generator loads as the params' model (of
    ``classes`` classes, where ``model.condition`` is not none: ``data_dir``'s manifest's); ``optimizers``: the
    checkpoint's optimiser states compared."""
    from pyext.files import DataFiles, RunFiles
    from pyext.losses import make_condition
    from pyext.models import FAMILIES, load_generator
    from pyext.training import train

    half = params.train.steps // 2
    whole = train(params, DataFiles(data_dir), RunFiles(work / "a"), progress=False)
    train(params, DataFiles(data_dir), RunFiles(work / "b"), until_step=half, progress=False)
    assert train(params, DataFiles(data_dir), RunFiles(work / "b"), progress=False)["resumed_from"] == half
    assert_same_weights(saved_weights(RunFiles(work / "a").generator), saved_weights(RunFiles(work / "b").generator))
    a, b = (torch.load(RunFiles(d).checkpoint, weights_only=True) for d in (work / "a", work / "b"))
    for network in networks:
        assert_same_weights(a[network], b[network])
    for optimizer in optimizers:  # Adam's moments, RMSProp's averages
        for k, state in a[optimizer]["state"].items():
            assert all(torch.equal(v, b[optimizer]["state"][k][name]) for name, v in state.items()), (optimizer, k)
    train(params, DataFiles(data_dir), RunFiles(work / "c"), until_step=half, progress=False)
    c = torch.load(RunFiles(work / "c").checkpoint, weights_only=True)
    assert not all(torch.equal(v, a["generator"][k]) for k, v in c["generator"].items())
    assert whole["step"] == params.train.steps and whole["val_psnr"] is None  # a generator from noise: not validated
    family = FAMILIES[params.model.family]
    model = load_generator(RunFiles(work / "a").generator)
    conditioning = make_condition(params, classes).generator
    assert type(model) is family and model.config() == family.from_params(params, **conditioning).config()


def translation_data(folder: Path) -> Path:
    """``folder`` with ``train.h5`` (12 clips of moving squares of domain A, 12 of B, interleaved by
    video) and ``val.h5`` (3 and 3), and a manifest whose second video is domain B's."""
    from pyext.data.manifest import Manifest, VideoEntry, write_manifest

    folder.mkdir(parents=True, exist_ok=True)
    videos = ["a.avi", "b.avi"]
    for name, n, seed in (("train.h5", 24, 1), ("val.h5", 6, 2)):
        video = (np.arange(n) % 2).astype(np.int32)  # A's and B's clips interleaved
        clips = moving_squares(n, 5, seed)
        clips[video == 1] = 255 - clips[video == 1]  # B: the negative of A's look
        with ClipWriter(folder / name, (5, 32, 32, 3), videos, {"params": {}}) as w:
            w.append(clips, motion=np.ones(n, np.float32), video=video, start=np.zeros(n, np.int32),
                     yx=np.zeros((n, 2), np.int16), label=np.zeros(n, np.int16))
    entries = [VideoEntry("a.avi", "train", 0, "Translate", (0,)),
               VideoEntry("b.avi", "train", 0, "Translate", (0,), root="photos", domain=1)]
    write_manifest(folder / "manifest.json", Manifest("demo", "videos", 0, ["Translate"], entries))
    return folder
