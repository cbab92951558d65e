"""Sampling a generator from noise: the truncation trick by resampling (pyext.models.base), the
generic class path of NoiseGenerator, and ``beyondmse sample`` end to end on a saved DCGAN: its PNG
grid and .npz against the model's own samples, its determinism, and its one-line refusals."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from cases import TINY_GENERATORS
from PIL import Image
from scipy import stats
from torch import nn

from pyext import cli
from pyext.models import MultiScaleGenerator, NoiseGenerator, generator_file
from pyext.models.base import seeded_generator, truncated_normal
from pyext.models.dcgan import DCGAN
from pyext.models.gaia import GAIA
from pyext.models.lapgan import LAPGAN
from pyext.sampling import ZOOM

SIZE = 32
FAMILIES = ", ".join(("dcgan", "lapgan", "vaegan", "biggan", "gran", "icgan"))


# ------------------------------------------------------------------------------ truncated_normal


def test_truncation_redraws_only_what_lies_beyond_the_threshold():
    shape, threshold = (500, 40), 0.7
    plain = torch.randn(shape, generator=seeded_generator([1]))
    truncated = truncated_normal(shape, threshold, seeded_generator([1]))
    inside = plain.abs() <= threshold
    assert truncated.shape == shape and truncated.dtype == torch.float32
    assert float(truncated.abs().max()) <= threshold
    assert (~inside).sum() > 1000  # many were redrawn: the comparisons below can fail
    assert torch.equal(truncated[inside], plain[inside])
    assert not torch.equal(truncated[~inside], plain[~inside].clamp(-threshold, threshold))
    # A threshold no draw reaches changes nothing: the very draws of the untruncated latents.
    assert torch.equal(truncated_normal(shape, 10.0, seeded_generator([1])), plain)
    assert torch.equal(truncated_normal(shape, threshold, seeded_generator([1])), truncated)  # seeded: repeats


@pytest.mark.parametrize("threshold", [0.3, 1.0, 2.0])
def test_truncation_draws_the_truncated_normal(threshold):
    z = truncated_normal((200, 500), threshold, seeded_generator([int(threshold * 10), 7]))
    target = stats.truncnorm(-threshold, threshold)
    assert stats.kstest(z.flatten().numpy(), target.cdf).pvalue > 1e-3
    # The test tells apart what the trick is not: the standard normal clamped at the threshold.
    clamped = torch.randn(200, 500, generator=seeded_generator([3])).clamp(-threshold, threshold)
    assert stats.kstest(clamped.flatten().numpy(), target.cdf).pvalue < 1e-6


@pytest.mark.parametrize("threshold", [0, -1.0, math.nan, True, "1"])
def test_a_threshold_must_be_a_positive_number(threshold):
    with pytest.raises(ValueError, match="the truncation threshold must be a number > 0"):
        truncated_normal((2, 3), threshold)


# ------------------------------------------------------------------------------- NoiseGenerator


def _varied(generator: NoiseGenerator, seed: int = 0) -> NoiseGenerator:
    """``generator`` in eval mode with weights drawn large enough that its images differ (DCGAN's
    initialisation makes an untrained one's near-constant) and batch-norm statistics far from
    their defaults (so that a batch's own statistics, train mode's, would give other images)."""
    draws = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in generator.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=draws) + 0.5 if "running_var" in name else (
                    torch.randn(tensor.shape, generator=draws) * 0.2)
                tensor.copy_(values)
    return generator.eval()


def _dcgan() -> DCGAN:
    return _varied(DCGAN(size=SIZE, **TINY_GENERATORS["dcgan"]))


def test_sampling_with_truncation_decodes_truncated_latents():
    g = _dcgan()
    truncated = g.latents(6, seeded_generator([4]), truncation=0.5)
    assert torch.equal(truncated, truncated_normal((6, g.latent), 0.5, seeded_generator([4])))
    torch.testing.assert_close(g.sample(6, generator=seeded_generator([4]), truncation=0.5), g(truncated),
                               rtol=0, atol=0)
    # Without truncation: the model of standard normal draws, as before the option existed.
    plain = torch.randn(6, g.latent, generator=seeded_generator([4]))
    torch.testing.assert_close(g.sample(6, generator=seeded_generator([4])), g(plain), rtol=0, atol=0)
    assert not torch.equal(g(plain), g(truncated))


def test_a_family_whose_noise_is_not_all_in_z_refuses_truncation(monkeypatch):
    monkeypatch.setattr(DCGAN, "truncatable", False)
    with pytest.raises(ValueError, match="the dcgan generator takes no truncation"):
        _dcgan().sample(2, truncation=1.0)


def test_lapgan_draws_no_noise_of_its_own_so_truncating_z_truncates_every_level():
    g = _varied(LAPGAN(size=SIZE, levels=3, **TINY_GENERATORS["lapgan"]))
    z = g.latents(3, seeded_generator([0]), truncation=1.0)
    torch.manual_seed(1)
    first = g(z)
    torch.manual_seed(2)  # another global random state: were a level to draw noise, the images would change
    torch.testing.assert_close(g(z), first, rtol=0, atol=0)
    assert all(float(level.abs().max()) <= 1.0 for level in g.split(z))  # the planes as the coarse vector


def test_decoding_in_batches_gives_each_latents_images():
    g = _dcgan()
    z = g.latents(7, seeded_generator([0]))
    torch.testing.assert_close(g.decode(z, batch_size=3), g(z), rtol=1e-5, atol=1e-6)


class _Conditioned(NoiseGenerator):
    """A generator of 3 classes whose images are their class: every pixel ``label - 1``."""

    latent, size, classes = 2, 4, 3

    def __init__(self):
        super().__init__()
        self.unit = nn.Parameter(torch.ones(()))

    def forward(self, z, labels=None):
        return (labels.to(z.dtype) - 1)[:, None, None, None].expand(len(z), 3, 4, 4) * self.unit


def test_a_conditioned_generator_samples_its_classes_and_refuses_others():
    g = _Conditioned().eval()
    labels = torch.tensor([2, 0, 1, 2, 1])
    images = g.decode(g.latents(5), labels, batch_size=2)  # each batch its own labels
    assert images[:, 0, 0, 0].tolist() == [1.0, -1.0, 0.0, 1.0, 0.0]
    for bad, why in ((torch.tensor([0, 3]), r"classes of the generator's 0\.\.2, got 0\.\.3"),
                     (torch.tensor([-1, 0]), r"0\.\.2, got -1\.\.0"),
                     (torch.tensor([0, 1, 2]), r"labels must be \(2,\) integer classes, got torch.int64 \(3,\)"),
                     (torch.tensor([0.0, 1.0]), "integer classes, got torch.float32"),
                     ([0, 1], "integer classes, got list")):
        with pytest.raises(ValueError, match=why):
            g.sample(2, bad)
    with pytest.raises(ValueError, match=r"the dcgan generator takes no class \(model.family: dcgan is not"):
        _dcgan().sample(2, torch.tensor([0, 0]))


# ------------------------------------------------------------------------------ beyondmse sample


def _saved(tmp_path, name: str = "generator.pt", model: nn.Module | None = None):
    """A model saved as the pipeline saves generators (``generator_file``); (model, path)."""
    model = _dcgan() if model is None else model
    path = tmp_path / name
    torch.save(generator_file(model), path)
    return model, path


@pytest.fixture(autouse=True)
def _no_plugins(monkeypatch):
    """The command alone: the experiments' installed commands (entry points, maybe of another
    checkout) are test_cli's business, and one that fails to import must not fail these tests."""
    monkeypatch.setattr(cli, "_plugins", dict)


def _sample(*argv) -> None:
    cli.main(["sample", *(str(a) for a in argv)])


def _refused(capsys, *argv) -> str:
    """Runs ``beyondmse sample`` expecting a refusal: exit status 2 and one line on stderr."""
    with pytest.raises(SystemExit) as done:
        _sample(*argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("sample: "), err
    return err.strip()


def _as_uint8(images: torch.Tensor) -> np.ndarray:
    """The reference conversion: [-1, 1] ``(n, 3, S, S)`` -> uint8 ``(n, S, S, 3)``, rounded."""
    return np.clip(np.round((images.detach().numpy() + 1) * 127.5), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def test_the_npz_holds_the_models_samples_of_the_seed(tmp_path, capsys):
    model, path = _saved(tmp_path)
    _sample("--model", path, "--out", tmp_path / "s.npz", "-n", 10, "--seed", 5, "--device", "cpu")
    assert capsys.readouterr().out.strip() == (
        f"sample: 10 images of the dcgan generator {path} (seed 5) written to {tmp_path / 's.npz'}")
    with np.load(tmp_path / "s.npz", allow_pickle=False) as saved:
        assert saved["images"].dtype == np.uint8 and saved["images"].shape == (10, SIZE, SIZE, 3)
        np.testing.assert_array_equal(saved["images"], _as_uint8(model.sample(10, generator=seeded_generator([5]))))
        np.testing.assert_array_equal(saved["z"], torch.randn(10, model.latent, generator=seeded_generator([5])))
        assert (int(saved["seed"]), str(saved["family"]), int(saved["latent"])) == (5, "dcgan", model.latent)
        assert math.isnan(float(saved["truncation"])) and int(saved["label"]) == -1
        assert len(np.unique(saved["images"].reshape(10, -1), axis=0)) == 10  # images that differ: a real check


def test_a_truncated_npz_holds_the_truncated_latents_images(tmp_path, capsys):
    model, path = _saved(tmp_path)
    _sample("--model", path, "--out", tmp_path / "t.npz", "-n", 6, "--truncation", 0.4)
    assert "(seed 0, truncated at 0.4)" in capsys.readouterr().out
    z = truncated_normal((6, model.latent), 0.4, seeded_generator([0]))
    with np.load(tmp_path / "t.npz") as saved:
        np.testing.assert_array_equal(saved["z"], z)
        np.testing.assert_array_equal(saved["images"], _as_uint8(model(z)))
        assert float(saved["truncation"]) == pytest.approx(0.4)


def test_the_png_is_a_grid_of_the_samples_in_rows_of_columns(tmp_path):
    model, path = _saved(tmp_path)
    _sample("--model", path, "--out", tmp_path / "grid.png", "-n", 10, "--columns", 4, "--seed", 2)
    grid = np.asarray(Image.open(tmp_path / "grid.png").convert("RGB"))
    cell = ZOOM * SIZE + 2  # an enlarged image and a white line each side
    assert grid.shape == (3 * cell, 4 * cell, 3)
    images = _as_uint8(model.sample(10, generator=seeded_generator([2])))
    for k in range(12):
        r, c = divmod(k, 4)
        inner = grid[r * cell + 1:(r + 1) * cell - 1, c * cell + 1:(c + 1) * cell - 1]
        if k < 10:  # row by row, each pixel a ZOOM x ZOOM square
            np.testing.assert_array_equal(inner, images[k].repeat(ZOOM, 0).repeat(ZOOM, 1))
        else:  # the last row filled with white
            assert (inner == 255).all()
    # Fewer images than columns: one row of them.
    _sample("--model", path, "--out", tmp_path / "row.png", "-n", 3)
    assert np.asarray(Image.open(tmp_path / "row.png")).shape[:2] == (cell, 3 * cell)


@pytest.mark.parametrize("suffix", [".png", ".npz"])
def test_the_same_seed_writes_the_same_file(tmp_path, suffix):
    _, path = _saved(tmp_path)
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        _sample("--model", path, "--out", tmp_path / f"{name}{suffix}", "-n", 5, "--seed", seed)
    a, b, c = ((tmp_path / f"{name}{suffix}").read_bytes() for name in "abc")
    assert a == b and a != c


def test_the_default_model_is_the_train_stages_generator(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _refused(capsys, "--out", "s.npz") == (
        f"sample: models/generator.pt: no such generator file (train one with model.family one of {FAMILIES}; "
        "or pass --model)")
    (tmp_path / "models").mkdir()
    model, _ = _saved(tmp_path / "models")
    _sample("--out", "s.npz", "-n", 2)
    with np.load(tmp_path / "s.npz") as saved:
        np.testing.assert_array_equal(saved["images"], _as_uint8(model.sample(2, generator=seeded_generator([0]))))


def test_refusals_in_one_line_before_writing_anything(tmp_path, capsys):
    _, path = _saved(tmp_path)
    out = tmp_path / "s.png"
    for argv, line in (
            (["--out", tmp_path / "s.jpg"],
             f"{tmp_path / 's.jpg'}: the samples are written as .png (a grid) or .npz (arrays), not .jpg"),
            (["--out", out, "-n", 0], "-n must be an int >= 1, got 0"),
            (["--out", out, "--seed", -1], "--seed must be an int >= 0, got -1"),
            (["--out", out, "--columns", 0], "--columns must be an int >= 1, got 0"),
            (["--out", out, "--truncation", 0], "--truncation must be a number > 0 (the threshold of |z|), got 0.0"),
            (["--out", out, "--label", 1],
             "--label 1: the dcgan generator takes no class (model.family: dcgan is not class-conditioned)")):
        assert _refused(capsys, "--model", path, *argv) == f"sample: {line}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generator.pt"]


def test_the_model_file_is_never_the_output(tmp_path, capsys):
    _, path = _saved(tmp_path, "model.npz")  # a name sample could write
    before = path.read_bytes()
    assert _refused(capsys, "--model", path, "--out", path) == (
        f"sample: {path}: is the input {path}; writing it would overwrite the input (choose another --out)")
    assert path.read_bytes() == before


@pytest.mark.parametrize("model,family,trains", [
    (MultiScaleGenerator(4, 1, 2, 0.1), "multiscale", "a video predictor"),
    (GAIA(frames=5, patch=32, latent=8, width=0.1), "gaia", "autoencoders")])
def test_a_model_that_is_no_generator_from_noise_is_refused_in_one_line(tmp_path, capsys, model, family, trains):
    _, path = _saved(tmp_path, model=model)
    assert _refused(capsys, "--model", path, "--out", tmp_path / "s.png") == (
        f"sample: {path}: a {family} model, which samples no images from noise (model.family: {family} trains "
        f"{trains}); sample needs a generator from noise (model.family: {FAMILIES})")
    assert not (tmp_path / "s.png").exists()


def test_a_truncation_the_family_does_not_take_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    _, path = _saved(tmp_path)
    monkeypatch.setattr(DCGAN, "truncatable", False)
    assert _refused(capsys, "--model", path, "--out", tmp_path / "s.png", "--truncation", 1) == (
        "sample: --truncation 1.0: the dcgan generator takes no truncation: not all its noise is in its latents")


@pytest.mark.parametrize("family", ["lapgan", "vaegan"])
def test_the_other_families_sample_to_a_file(tmp_path, family):
    from pyext.models import FAMILIES as REGISTRY

    extra = {"levels": 3} if family == "lapgan" else {}
    model, path = _saved(tmp_path, model=_varied(REGISTRY[family](size=SIZE, **extra, **TINY_GENERATORS[family])))
    _sample("--model", path, "--out", tmp_path / "s.npz", "-n", 3, "--truncation", 1.5)
    with np.load(tmp_path / "s.npz") as saved:
        assert str(saved["family"]) == family
        np.testing.assert_array_equal(
            saved["images"], _as_uint8(model.sample(3, generator=seeded_generator([0]), truncation=1.5)))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_seed_gives_the_same_latents_and_images_on_cuda(tmp_path):
    _, path = _saved(tmp_path)
    for device in ("cpu", "cuda"):
        _sample("--model", path, "--out", tmp_path / f"{device}.npz", "-n", 16, "--device", device)
    with np.load(tmp_path / "cpu.npz") as cpu, np.load(tmp_path / "cuda.npz") as cuda:
        np.testing.assert_array_equal(cpu["z"], cuda["z"])
        difference = np.abs(cpu["images"].astype(int) - cuda["images"].astype(int))
        assert difference.max() <= 1  # float arithmetic of another device: a rounding apart at most
