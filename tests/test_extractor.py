"""pyext.evaluation.extractor: the corpus holds patches of every generated set with the shape labels
where one frame shows them; a short training exports TorchScript files that the FID path loads (any
frame size in, (N, 128) features and (N, 4) shape logits out) and a card with their digests."""
import hashlib
import json

import numpy as np
import pytest
import torch

from pyext.evaluation.extractor import SOURCES, corpus, export, train_extractor
from pyext.evaluation.fid import FrameFeatures

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def small():
    return corpus(24, seed=0, size=(64, 96))


def test_the_corpus_covers_every_set_and_labels_shapes_only_where_visible(small):
    assert small["patches"].shape == (72, 32, 32, 3) and small["patches"].dtype == np.uint8
    assert np.bincount(small["source"]).tolist() == [24, 24, 24]
    stochastic = small["source"] == SOURCES.index("stochastic")
    assert (small["shape"][~stochastic] == -1).all() and set(small["shape"][stochastic]) <= {0, 1, 2, 3}
    again = corpus(24, seed=0, size=(64, 96))
    assert all(np.array_equal(small[k], again[k]) for k in small)


def test_a_trained_extractor_exports_files_the_fid_path_loads(small, tmp_path):
    net, accuracy = train_extractor(small, steps=3, progress=False)
    assert set(accuracy) == {"twin", "source", "shape", "held_out", "trained_on"}
    assert accuracy["held_out"] == 7 and accuracy["trained_on"] == 65
    card = export(net, tmp_path, {"task": "test"})
    for name in ("features.pt", "classifier.pt"):
        assert card["files"][name] == "sha256:" + hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
    assert json.loads((tmp_path / "card.json").read_text()) == card
    frames = np.random.default_rng(0).integers(0, 256, (3, 48, 80, 3), dtype=np.uint8)  # another size
    features = FrameFeatures(tmp_path / "features.pt", torch.device("cpu"))
    features.add({"a": frames})
    assert features.features("a").shape == (3, 128)
    classifier = FrameFeatures(tmp_path / "classifier.pt", torch.device("cpu"), "evaluate.classifier", "class logits")
    classifier.add({"a": frames})
    assert classifier.features("a").shape == (3, 4)
    # The scripted file computes what the network does.
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(features.features("a")).float(), net.features(x),
                                   rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["gaussian noise", "gaussian blur", "black rectangles", "swirl", "salt and pepper"])
def test_each_distortion_grows_with_its_level(small, kind):
    from pyext.evaluation.extractor import DISTORTIONS, distort

    patches = small["patches"][:8]
    changes = [np.abs(distort(patches, kind, level).astype(int) - patches).mean() for level in DISTORTIONS[kind]]
    assert 0 < changes[0] and all(a < b for a, b in zip(changes, changes[1:])), changes
    assert distort(patches, kind, DISTORTIONS[kind][0]).dtype == np.uint8


def test_the_shipped_files_match_their_card_and_its_unseen_shape_accuracy():
    from pyext.evaluation.extractor import EXTRACTOR_DIR

    card = json.loads((EXTRACTOR_DIR / "card.json").read_text())
    for name in ("features.pt", "classifier.pt"):
        assert card["files"][name] == "sha256:" + hashlib.sha256((EXTRACTOR_DIR / name).read_bytes()).hexdigest()
    # The card's accuracy of the shape head on videos of the check's seed, recomputed on a sample.
    unseen = corpus(60, seed=card["corpus"]["seed"] + 1)
    stochastic = unseen["source"] == SOURCES.index("stochastic")
    classifier = FrameFeatures(EXTRACTOR_DIR / "classifier.pt", torch.device("cpu"), "evaluate.classifier", "logits")
    classifier.add({"shapes": unseen["patches"][stochastic]})
    accuracy = (classifier.features("shapes").argmax(1) == unseen["shape"][stochastic]).mean()
    assert accuracy == pytest.approx(card["validation"]["shape_unseen"]["accuracy"], abs=0.15)
