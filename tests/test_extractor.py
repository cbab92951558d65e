"""pyext.evaluation.extractor: the corpus holds patches of every generated set with the shape labels
where one frame shows them; the classifier's corpus holds the squares evaluation gives it, around
moving patches of many videos; a short training exports TorchScript files that the FID path loads
(any frame size in, (N, 128) features and (N, 4) shape logits out) and a card with their digests."""
import hashlib
import json

import numpy as np
import pytest
import torch

from pyext.evaluation.extractor import SOURCES, corpus, export, object_crops, train_classifier, train_extractor
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


@pytest.fixture(scope="module")
def objects():
    return object_crops(5, seed=3, size=(96, 128), per_video=2)


def test_the_classifiers_corpus_is_the_squares_around_moving_patches_of_many_videos(objects):
    from pyext.data import stochastic
    from pyext.evaluation.fid import moving_crops, tiles

    assert objects["crops"].shape == (20, 64, 64, 3) and np.bincount(objects["shape"]).tolist() == [5, 5, 5, 5]
    # The first class's first crops, cut by hand from its first video's second frame: at most 2 a video.
    frames = stochastic.render_video(stochastic.CLASSES[0], 3, 1, 1, 2, False, (96, 128))
    origins = moving_crops(frames[:1], frames[1:], 32, 8.0, 2, np.random.default_rng([3, 0, 1]))
    assert 0 < len(origins) <= 2
    assert np.array_equal(objects["crops"][:len(origins)], tiles(frames[1:], origins, 32, 64))
    again = object_crops(5, seed=3, size=(96, 128), per_video=2)
    assert all(np.array_equal(objects[k], again[k]) for k in objects)


def test_a_trained_extractor_exports_files_the_fid_path_loads(small, objects, tmp_path):
    net, accuracy = train_extractor(small, steps=3, progress=False)
    assert set(accuracy) == {"twin", "source", "shape", "held_out", "trained_on"}
    assert accuracy["held_out"] == 7 and accuracy["trained_on"] == 65
    shapes = train_classifier(objects, steps=3, progress=False)
    card = export(net, shapes, tmp_path, {"task": "test"})
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
        torch.testing.assert_close(torch.from_numpy(classifier.features("a")).float(), shapes(x), rtol=1e-4, atol=1e-5)
    # The classifier alone, again: the features file and its digest stay.
    before = (tmp_path / "features.pt").read_bytes()
    again = export(None, train_classifier(objects, steps=1, progress=False), tmp_path, card)
    assert (tmp_path / "features.pt").read_bytes() == before and again["files"]["features.pt"] == card["files"]["features.pt"]
    assert again["files"]["classifier.pt"] == "sha256:" + hashlib.sha256((tmp_path / "classifier.pt").read_bytes()).hexdigest()


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
    # The card's accuracy of the classifier on objects of videos it never saw, recomputed on a sample.
    check = card["classifier"]["check"]
    unseen = object_crops(30, seed=check["seed"])
    classifier = FrameFeatures(EXTRACTOR_DIR / "classifier.pt", torch.device("cpu"), "evaluate.classifier", "logits")
    classifier.add({"shapes": unseen["crops"]})
    accuracy = (classifier.features("shapes").argmax(1) == unseen["shape"]).mean()
    assert accuracy == pytest.approx(check["real"]["accuracy"], abs=0.12)
