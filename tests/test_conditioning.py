"""Class conditioning (``model.condition``): cGAN's class embedding reaches G and D at every scale;
ACGAN's class terms against cross-entropies computed by hand, on real and generated clips or real
ones only (ACGAN-Mod); the classes read from the manifest and checked against the stores; a
conditioned run trained, saved, evaluated (the class head's accuracy, the per-class picture) and
used for prediction."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from cases import moving_squares
from PIL import Image

from pyext.files import DataFiles, EvaluationFiles, RunFiles
from pyext.config import ParamsError
from pyext.data.manifest import Manifest, write_manifest
from pyext.data.store import ClipWriter, StoreError
from pyext.evaluation import evaluate_model
from pyext.losses import generator_loss, make_condition, make_objective
from pyext.losses.conditioning import Judge
from pyext.models import MultiScaleDiscriminator, MultiScaleGenerator, load_generator, load_predictor
from pyext.models.blocks import ClassChannels
from pyext.prediction import predict
from pyext.training import make_step, train
from test_gan_options import _clip, _params

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _ce(z: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of logits ``z`` (B, C) against ``labels``, in float64 numpy."""
    z = z.astype(np.float64)
    logp = z - z.max(1, keepdims=True) - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True))
    return float(-logp[np.arange(len(labels)), labels].mean())


# -------------------------------------------------------------------------------------- cGAN


def test_class_channels_append_the_embedding_of_each_label_at_every_position():
    torch.manual_seed(0)
    block = ClassChannels(5, 3)
    assert not block.embed.weight.any()  # it starts class-blind
    torch.nn.init.normal_(block.embed.weight)
    x, labels = torch.randn(2, 4, 3, 6), torch.tensor([4, 1])
    out = block(x, labels)
    assert out.shape == (2, 7, 3, 6) and torch.equal(out[:, :4], x)
    for b, label in enumerate(labels):
        expected = block.embed.weight[label].detach()[:, None, None].expand(3, 3, 6)
        assert torch.equal(out[b, 4:], expected)
    with pytest.raises(ValueError, match="labels must be 2 class indices"):
        block(x, None)
    with pytest.raises(ValueError, match="labels must be 2 class indices"):
        block(x, torch.tensor([0.0, 1.0]))


def test_the_class_embedding_reaches_every_scale_of_g_and_d():
    torch.manual_seed(0)
    G = MultiScaleGenerator(4, 1, scales=3, width=0.05, classes=3, embedding=4)
    D = MultiScaleDiscriminator(4, 1, scales=3, width=0.05, patch=32, classes=3, embedding=4)
    for k, net in enumerate(G.nets):  # the inputs (and the coarser prediction) plus 4 class channels
        assert net[0].in_channels == 12 + (3 if k else 0) + 4
    assert all(net.features[0].in_channels == 15 + 4 for net in D.nets)
    x, y = _clip(2, 4, 32, 32), _clip(2, 1, 32, 32, seed=1)
    same = torch.tensor([0, 0])
    # Untrained, the classes change nothing (the embeddings start at zero); made non-zero below,
    # as a trained network's are.
    assert torch.equal(G(x, same), G(x, torch.tensor([1, 2])))
    for block in (G.class_input, D.class_input):
        torch.nn.init.normal_(block.embed.weight)
    # Every scale's output depends on the class.
    for a, b in zip(G.forward_scales(x, same), G.forward_scales(x, torch.tensor([0, 2])), strict=True):
        assert torch.equal(a[0], b[0]) and not torch.allclose(a[1], b[1])
    for a, b in zip(D(y, x, same), D(y, x, torch.tensor([0, 2])), strict=True):
        assert a[0] == b[0] and a[1] != b[1]
    # Gradients reach the embeddings of the classes used, and no other.
    (G(x, torch.tensor([1, 1])).sum() + sum(z.sum() for z in D(y, x, torch.tensor([1, 1])))).backward()
    for block in (G.class_input, D.class_input):
        grad = block.embed.weight.grad
        assert grad[1].abs().sum() > 0 and not grad[0].any() and not grad[2].any()
    with pytest.raises(ValueError, match="labels must be 2 class indices"):
        G(x)  # a conditioned generator needs the classes


def test_the_judge_repeats_the_labels_for_every_kind_of_clip_in_one_call():
    seen = []

    def D(ys, x, labels):
        seen.append(labels.clone())
        return [torch.zeros(len(x), 1)]

    judge = Judge(D, torch.tensor([2, 0, 1]), class_input=True, class_head=False)
    judge(None, torch.zeros(6, 4, 3, 8, 8))  # real then generated clips
    assert seen[0].tolist() == [2, 0, 1, 2, 0, 1]


def test_a_concat_step_trains_both_embeddings():
    params = _params(model={"condition": "concat", "embedding": 3})
    step = make_step(params, torch.device("cpu"), classes=4)
    before = [net.class_input.embed.weight.detach().clone() for net in (step.G, step.D)]
    labels = torch.tensor([0, 3, 3, 1])
    step.step(0, [_clip(4, 5, 32, 32, seed=j) for j in range(step.batches_per_step)], [labels] * 2)
    for net, old in zip((step.G, step.D), before, strict=True):
        moved = (net.class_input.embed.weight.detach() != old).any(1)
        assert moved.tolist() == [True, True, False, True]  # class 2 appears in no batch
    with pytest.raises(ValueError, match="model.condition: concat trains on the clips' classes"):
        step.step(1, [_clip(4, 5, 32, 32, seed=j) for j in range(step.batches_per_step)])


# ------------------------------------------------------------------------------------- ACGAN


class _FixedD:
    """A discriminator whose outputs per scale are given: ``(N, 1 + C)`` for each call in turn."""

    def __init__(self, *calls):
        self.calls = list(calls)

    def __call__(self, ys, x):
        return self.calls.pop(0)


@pytest.mark.parametrize("class_d", ["both", "real"])
def test_acgan_class_terms_against_cross_entropies_by_hand(class_d):
    params = _params(model={"condition": "acgan"}, loss={"class_weight": 0.7, "class_d": class_d})
    condition, objective = make_condition(params, classes=3), make_objective(params.loss.adversarial)
    rng = np.random.default_rng(0)
    labels = torch.tensor([2, 0, 1, 2])
    d_out = [torch.from_numpy(rng.normal(size=(8, 4))).float() for _ in range(2)]  # 2 scales, real then fake
    g_out = [torch.from_numpy(rng.normal(size=(4, 4))).float() for _ in range(2)]
    x = torch.zeros(4, 4, 3, 32, 32)
    pyramid = [torch.zeros(4, 1, 3, 16, 16), torch.zeros(4, 1, 3, 32, 32)]

    judge = condition.judge(_FixedD(d_out), labels)
    d_loss = objective.discriminator_loss(judge, pyramid, pyramid, x)
    term, measures = condition.discriminator_loss(judge, labels)
    y = labels.numpy()
    real = sum(_ce(z[:4].numpy()[:, 1:], y) for z in d_out)
    fake = sum(_ce(z[4:].numpy()[:, 1:], y) for z in d_out)
    expected = 0.7 * (real + fake) if class_d == "both" else 0.7 * real
    assert float(term) == pytest.approx(expected, rel=1e-6)
    assert float(measures["d_class"]) == pytest.approx(real, rel=1e-6)
    right = np.mean([(z[:4].numpy()[:, 1:].argmax(1) == y).mean() for z in d_out])
    assert float(measures["d_class_accuracy"]) == pytest.approx(right)
    # The objective saw the real/generated logit alone.
    for z, r, f in zip(d_out, d_loss.real_logits, d_loss.fake_logits, strict=True):
        assert torch.equal(r, z[:4, :1]) and torch.equal(f, z[4:, :1])

    judge = condition.judge(_FixedD(g_out), labels)
    adv = objective.generator_loss(judge, pyramid, x)
    g_term = condition.generator_loss(judge, labels)
    assert float(g_term) == pytest.approx(sum(_ce(z.numpy()[:, 1:], y) for z in g_out), rel=1e-6)
    # G's loss adds it weighed as its adversarial term is: adv * class_weight * L_C.
    preds = [torch.rand(4, 1, 3, 16, 16), torch.rand(4, 1, 3, 32, 32)]
    without = generator_loss(params.loss, preds, pyramid, adv).total
    with_it = generator_loss(params.loss, preds, pyramid, adv, classes=g_term).total
    assert float(with_it - without) == pytest.approx(params.loss.adv * 0.7 * float(g_term), rel=1e-5)


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_the_class_head_learns_only_from_the_class_term(weight):
    params = _params(model={"condition": "acgan"}, loss={"class_weight": weight})
    step = make_step(params, torch.device("cpu"), classes=3)
    last = [net.classifier[-1] for net in step.D.nets]
    before = [layer.weight.detach().clone() for layer in last]
    step.step(0, [_clip(4, 5, 32, 32, seed=j) for j in range(step.batches_per_step)], [torch.tensor([0, 1, 2, 1])] * 2)
    for layer, old in zip(last, before, strict=True):
        assert layer.weight.shape[0] == 4  # the logit, then 3 class logits
        assert not torch.equal(layer.weight[0], old[0])
        assert torch.equal(layer.weight[1:], old[1:]) == (weight == 0)


# ------------------------------------------------------------------- classes, training, evaluation


def _store(path: Path, clips: np.ndarray, labels: np.ndarray, full_frames: bool = False) -> None:
    """A store of ``clips`` (N, T, H, W, 3) of classes ``labels``; ``full_frames``: laid out by
    frame size, as test.h5 is."""
    n = len(clips)
    shape = (clips.shape[1], None, None, 3) if full_frames else clips.shape[1:]
    with ClipWriter(path, shape, ["a.avi", "b.avi"], {"params": {}}) as w:
        w.append(clips, motion=np.full(n, 20, np.float32), video=(np.arange(n) % 2).astype(np.int32),
                 start=np.zeros(n, np.int32), yx=np.zeros((n, 2), np.int16), label=labels.astype(np.int16))


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    """train.h5 (16 clips), val.h5 (4), test.h5 (2 clips of 6 frames, 32x32), two classes, and the manifest."""
    folder = tmp_path_factory.mktemp("labelled")
    _store(folder / "train.h5", moving_squares(16, 5, seed=1), np.arange(16) % 2)
    _store(folder / "val.h5", moving_squares(4, 5, seed=2), np.arange(4) % 2)
    test = moving_squares(2, 5, seed=3)
    _store(folder / "test.h5", np.concatenate([test, test[:, -1:]], axis=1), np.array([0, 1]), full_frames=True)
    write_manifest(folder / "manifest.json", Manifest("folder", "videos", 0, ["Walk", "Jump"]))
    return folder


def _conditioned(condition: str):
    return _params(model={"condition": condition}, steps=2, batch_size=4, checkpoint_every=2, log_every=1,
                   val_every=2, val_batches=1, image_every=2, workers=0, keep="last")


def test_the_classes_come_from_the_manifest_and_must_fit_the_store(labelled, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("train.h5", "val.h5"):
        (bare / name).write_bytes((labelled / name).read_bytes())
    with pytest.raises(ParamsError, match=r"model\.condition: .*manifest.json, which is missing"):
        train(_conditioned("concat"), DataFiles(bare), RunFiles(tmp_path / "models"), progress=False)
    write_manifest(bare / "manifest.json", Manifest("folder", "videos", 0, ["Walk"]))  # class 1 unknown
    with pytest.raises(StoreError, match=r"train.h5: clips of classes 0..1, but .*manifest.json has 1 classes"):
        train(_conditioned("concat"), DataFiles(bare), RunFiles(tmp_path / "models"), progress=False)
    # Without conditioning neither is read.
    (bare / "manifest.json").unlink()
    assert train(_conditioned("none"), DataFiles(bare), RunFiles(tmp_path / "plain"), progress=False)["step"] == 2


def test_an_acgan_run_is_saved_evaluated_and_predicts_under_a_class(labelled, tmp_path):
    params = _conditioned("acgan")
    params = replace(params, evaluate=replace(params.evaluate, patches=8, pictures=1),
                     filter=replace(params.filter, min_motion=1.0))
    train(params, DataFiles(labelled), RunFiles(tmp_path / "models", tmp_path / "live"), progress=False)
    path = tmp_path / "models" / "generator.pt"
    G = load_generator(path)
    assert G.classes == 2 and G.config()["embedding"] == params.model.embedding
    saved = torch.load(path, weights_only=True)
    assert saved["discriminator"]["nets.0.classifier.4.weight"].shape[0] == 3  # logit + 2 classes

    lines = evaluate_model(params, G, path, DataFiles(labelled), EvaluationFiles(tmp_path / "eval"), torch.device("cpu"), progress=False)
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    head = metrics["class_head"]
    assert head["patches"] == 8 and head["chance"] == 0.5 and len(head["accuracy_per_scale"]) == 2
    assert 0 <= head["accuracy"] <= 1 and any("class head" in line for line in lines)
    picture = np.asarray(Image.open(tmp_path / "eval" / "pictures" / "classes.png"))
    assert picture.shape[0] > 3 * 32  # the truth, then a row per class

    frames = moving_squares(1, 5, seed=5)[0]
    with pytest.raises(ValueError, match=r"needs the video's class 0..1 \(--label\), got None"):
        predict(G, frames, steps=1)
    one, other = predict(G, frames, steps=1, label=0), predict(G, frames, steps=1, label=1)
    assert one.shape == other.shape and not np.array_equal(one, other)
    (tmp_path / "in.avi").write_bytes(b"not read: the missing class stops the command first")
    result = subprocess.run([sys.executable, "-m", "pyext.cli", "predict", str(tmp_path / "in.avi"), "--out",
                             str(tmp_path / "out.gif"), "--model", str(path)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.strip().endswith("(--label), got None"), result.stderr
    assert load_predictor(path).classes == 2


def test_a_store_of_more_classes_than_the_generator_stops_the_evaluation(labelled, tmp_path):
    G = MultiScaleGenerator(4, 1, scales=2, width=0.05, classes=1, embedding=2)
    torch.save({"format": 2, "family": "multiscale", "config": G.config(), "state_dict": G.state_dict()},
               tmp_path / "generator.pt")
    with pytest.raises(StoreError, match=r"test.h5: clips of classes 0..1, but .*generator.pt has 1 classes"):
        evaluate_model(_conditioned("concat"), G, tmp_path / "generator.pt", DataFiles(labelled), EvaluationFiles(tmp_path / "eval"), torch.device("cpu"), progress=False)
