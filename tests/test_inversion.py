"""DeePSiM's inversion (pyext.models.inversion, pyext.losses.inversion, pyext.training.steps.inversion,
pyext.evaluation.inversion): each term by hand, G moved by every term while the fixed network takes
no gradient and keeps its weights and statistics, a run resumed bit for bit, a distributed run
refused in one line, and the stage scripts writing every declared output. (Its one-line params
refusals: tests/test_config.py; one step per device: tests/test_dcgan.py.)"""
from __future__ import annotations

import json
import sys

import pytest
import torch
from cases import TINY_INVERSION, assert_resumes_exactly, family_params

from pyext.config import ParamsError
from pyext.evaluation.extractor import Layers, PatchNet, _script
from pyext.losses.inversion import feature_loss, image_loss
from pyext.models.inversion import FixedNetwork, Inverter
from pyext.training import make_step

pytestmark = pytest.mark.usefixtures("one_torch_thread")

@pytest.fixture
def network(tmp_path):
    """An untrained PatchNet's layers as a TorchScript file (what ``inverted.pt`` is, trained)."""
    torch.manual_seed(5)
    path = tmp_path / "layers.pt"
    _script(Layers(PatchNet()), path)
    return path


def _params(network, kind: str = "bce", **knobs):
    return family_params("inversion", TINY_INVERSION | {"network": str(network)} | knobs, kind)


def test_the_shipped_inverted_network_is_its_cards_and_not_the_scorers():
    import hashlib

    from pyext.evaluation.extractor import EXTRACTOR_DIR, INVERTED_SEED

    card = json.loads((EXTRACTOR_DIR / "inverted.json").read_text())
    path = EXTRACTOR_DIR / "inverted.pt"
    assert card["files"]["inverted.pt"] == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    scorer = json.loads((EXTRACTOR_DIR / "card.json").read_text())
    assert card["corpus"]["seed"] == INVERTED_SEED != scorer["corpus"]["seed"]  # FID's network is not the loss's
    assert [tuple(o.shape) for o in FixedNetwork(path)(torch.zeros(1, 3, 32, 32))] == [
        (1, 32, 32, 32), (1, 64, 16, 16), (1, 128, 8, 8), (1, 32, 8, 8), (1, 128)]


def test_the_terms_by_hand():
    a = torch.tensor([[[[1.0, -1.0], [0.0, 2.0]]]])
    b = torch.zeros(1, 1, 2, 2)
    assert float(image_loss(a, b)) == pytest.approx((1 + 1 + 0 + 4) / 4)
    assert float(feature_loss(torch.tensor([[3.0, 0.0]]), torch.tensor([[1.0, 1.0]]))) == pytest.approx((4 + 1) / 2)
    # The target features are a constant: the gradient reaches the inversion's side alone.
    target = torch.ones(1, 2, requires_grad=True)
    fake = torch.zeros(1, 2, requires_grad=True)
    feature_loss(fake, target).backward()
    assert target.grad is None and fake.grad.tolist() == [[-1.0, -1.0]]  # d/dx mean (x - 1)^2 = 2 (x - 1) / 2
    with pytest.raises(ValueError, match="one shape"):
        image_loss(torch.zeros(1, 3), torch.zeros(1, 2))


def test_the_fixed_networks_layers_and_the_decoders_sizes(network):
    phi = FixedNetwork(network)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    shapes = [tuple(o.shape) for o in phi(x)]
    assert shapes == [(2, 32, 32, 32), (2, 64, 16, 16), (2, 128, 8, 8), (2, 32, 8, 8), (2, 128)]
    phi.train()
    assert not phi.training and not phi.net.training  # its batch norms never learn
    for layer in range(1, 6):  # every layer, maps and the vector, decodes to the image
        model = Inverter(str(network), layer, 2, size=32, width=0.125).eval()
        out = model.invert(x)
        assert out.shape == (2, 3, 32, 32) and float(out.detach().abs().max()) <= 1
    with pytest.raises(ValueError, match=r"model.inversion.layer: expected 1..5 \(the layers of"):
        Inverter(str(network), 6, 2)
    with pytest.raises(ValueError, match="model.inversion.network: no such file: .*nothing.pt"):
        FixedNetwork(network.with_name("nothing.pt"))


def test_a_replaced_network_file_changes_the_runs_identity_and_the_builtin_is_the_codes(network):
    from pyext.training import params_hash

    params = _params(network)
    before = params_hash(params)
    assert params_hash(params) == before
    torch.manual_seed(6)
    _script(Layers(PatchNet()), network)  # other weights, the same path
    assert params_hash(params) != before
    from cases import REPO
    from pyext.files import stage_code_deps  # the shipped file is a code dependency of training (code_hash)
    assert "pyext/evaluation/extractor_files/inverted.pt" in map(str, stage_code_deps(REPO / "dvc.yaml", "train"))


@pytest.mark.parametrize("term", ["feature_weight", "adversarial_weight", "image_weight"])
def test_each_term_moves_g_and_no_term_reaches_the_fixed_network(network, term):
    alone = {name: 0.0 for name in ("feature_weight", "adversarial_weight", "image_weight")} | {term: 1.0}
    step = make_step(_params(network, **alone), torch.device("cpu"))
    phi = {k: v.clone() for k, v in step.model.phi.state_dict().items()}  # weights and batch-norm statistics
    g = {k: v.clone() for k, v in step.model.decoder.state_dict().items()}
    logged = step.step(0, [torch.rand(4, 5, 3, 32, 32) * 2 - 1] * step.batches_per_step)
    assert set(logged) == {"train/loss_d", "train/loss_g", "train/d_accuracy", f"train/{term.split('_')[0]}"}
    assert all(p.grad is None for p in step.model.phi.parameters())
    assert all(torch.equal(v, step.model.phi.state_dict()[k]) for k, v in phi.items())
    moved = [k for k, v in g.items() if k.endswith("weight") and not torch.equal(v, step.model.decoder.state_dict()[k])]
    assert moved and all(p.grad is not None for p in step.model.decoder.parameters())
    assert {id(p) for group in step.opt_g.param_groups for p in group["params"]} == {
        id(p) for p in step.model.decoder.parameters()}


def test_the_loss_is_the_weighed_sum_of_the_terms(network):
    step = make_step(_params(network, feature_weight=2.0, adversarial_weight=0.5, image_weight=3.0),
                     torch.device("cpu"))
    logged = step.step(0, [torch.rand(4, 5, 3, 32, 32) * 2 - 1] * step.batches_per_step)
    total = 2.0 * logged["train/feature"] + 0.5 * logged["train/adversarial"] + 3.0 * logged["train/image"]
    torch.testing.assert_close(logged["train/loss_g"], total)


def test_resumed_inversion_run_equals_uninterrupted(data_dir, tmp_path, network):
    assert_resumes_exactly(_params(network), data_dir, tmp_path)


def test_a_distributed_run_is_refused_in_one_line(network):
    with pytest.raises(ParamsError) as info:
        make_step(_params(network), torch.device("cpu"), distributed=True, rank=0, world=2)
    assert str(info.value) == ("params.yaml: model.family: expected dcgan in a distributed run (the inversion's "
                               "networks are not wrapped for one yet), got 'inversion'")


def test_the_pipeline_trains_and_evaluates_an_inversion_with_every_output(tmp_path, network):
    import h5py
    import yaml
    from cases import run_in, set_params, tiny_pipeline

    work = tiny_pipeline(tmp_path)
    knobs = {f"model__inversion__{k}": v for k, v in (TINY_INVERSION | {"network": str(network)}).items()}
    set_params(work, model__family="inversion", **knobs, train__init="", train__batch_size=4, evaluate__patches=40,
               filter__min_motion=1.0, evaluate__features="builtin", evaluate__classifier="")
    for stage in ("prepare", "extract", "filter", "train", "evaluate"):
        done = run_in([sys.executable, "-m", f"pipeline.{stage}"], work)
    metrics = json.loads((work / "eval" / "metrics.json").read_text())
    n = metrics["samples"]
    assert metrics["family"] == "inversion" and 2 <= n <= 40 and metrics["network"]["layer"] == 3
    assert set(metrics["inversion"]) == {"generator", "untrained"}
    assert all(metrics["inversion"][k]["psnr"] > 0 for k in ("generator", "untrained"))
    assert set(metrics["kid"]) == {"generator", "untrained", "blurred", "noisy"}
    assert done.stdout.startswith(f"evaluate: inversion of layer 3 on {n} frames of moving test patches: PSNR ")
    with h5py.File(work / "eval" / "predictions.h5") as f:
        assert f["predictions"].shape == (n, 1, 32, 32, 3) and f.attrs["family"] == "inversion"
    stages = yaml.safe_load((work / "dvc.yaml").read_text())["stages"]
    for stage in ("train", "evaluate"):
        for group in ("outs", "metrics", "plots"):
            for out in stages[stage][group]:
                assert (work / (out if isinstance(out, str) else next(iter(out)))).exists(), (stage, out)
    assert sorted(p.name for p in (work / "eval" / "pictures").iterdir()) == ["inversions.png"]


def test_pixel_only_inversion_is_a_params_change(network):
    p = _params(network, feature_weight=0.0, adversarial_weight=0.0)
    step = make_step(p, torch.device("cpu"))
    logged = step.step(0, [torch.rand(4, 5, 3, 32, 32) * 2 - 1] * step.batches_per_step)
    assert "train/feature" not in logged and "train/adversarial" not in logged
    torch.testing.assert_close(logged["train/loss_g"], logged["train/image"])
