"""pyext.data.photos: a small photo set on disk (UCF101's tree and lists, decodable videos), test
videos made only of test photographs, a camera that never leaves its photograph, motion in every
class, determinism, and argument errors."""
import hashlib

import cv2
import numpy as np
import pytest

from pyext.data import photos
from pyext.data.photos import CLASSES, TEST_PHOTOS, TRAIN_PHOTOS, generate_photos, render_video
from pyext.data.video import read_video

VERSION_1_DIGEST = "1642aacb9b59e4024a48e917c0378903b4591e032e88a3016109a9d3ccf23aea"
SMALL = dict(classes=2, groups=3, test_groups=1, clips_per_group=1, frames=8, seed=0)
VIDEOS = [f"{name}/v_{name}_g{group:02d}_c01.avi" for name in CLASSES[:2] for group in (1, 2, 3)]


@pytest.fixture(scope="module")
def photo_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos") / "set"
    generate_photos(root, **SMALL, progress=False)
    return root


def test_tree_lists_and_videos(photo_set):
    files = sorted(str(p.relative_to(photo_set)) for p in photo_set.rglob("*") if p.is_file())
    lists = [f"ucfTrainTestlist/{name}" for name in ("classInd.txt", "testlist01.txt", "trainlist01.txt")]
    assert files == sorted([f"UCF-101/{v}" for v in VIDEOS] + lists)
    assert (photo_set / "ucfTrainTestlist" / "classInd.txt").read_text() == "1 Tripod\n2 Handheld\n"
    assert (photo_set / "ucfTrainTestlist" / "testlist01.txt").read_text() == (
        "Tripod/v_Tripod_g01_c01.avi\nHandheld/v_Handheld_g01_c01.avi\n")
    for name in VIDEOS:
        frames = read_video(photo_set / "UCF-101" / name)
        assert frames.shape == (8, 240, 320, 3), name
        # A photograph, not a flat or synthetic frame: many distinct values, detail everywhere.
        assert len(np.unique(frames[0])) > 100 and frames[0].std() > 15, name


def test_deterministic(photo_set, tmp_path):
    generate_photos(tmp_path / "again", **SMALL, progress=False)
    for name in VIDEOS:
        assert (tmp_path / "again" / "UCF-101" / name).read_bytes() == (photo_set / "UCF-101" / name).read_bytes()


def test_photos_are_real_and_split():
    assert not set(TRAIN_PHOTOS) & set(TEST_PHOTOS)
    for name in TRAIN_PHOTOS + TEST_PHOTOS:
        image = photos.photo(name)
        assert image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) >= 240, name
        assert not image.flags.writeable


@pytest.mark.parametrize("class_name", CLASSES)
def test_test_videos_show_only_test_photographs(class_name, monkeypatch):
    used = []
    real = photos.photo

    def recording(name):
        used.append(name)
        return real(name)

    monkeypatch.setattr(photos, "photo", recording)
    for group, test, pool in ((1, True, TEST_PHOTOS), (2, False, TRAIN_PHOTOS), (3, False, TRAIN_PHOTOS)):
        used.clear()
        render_video(class_name, seed=0, group=group, clip=1, frames=2, test=test, size=(48, 64))
        assert used and set(used) <= set(pool), (group, used)


@pytest.mark.parametrize("version", photos.MOTIONS)
@pytest.mark.parametrize("class_name", CLASSES)
def test_the_camera_stays_inside_its_photograph(class_name, version):
    # Over many videos, the frame's corners map inside the photograph at every instant a frame
    # averages (BORDER_REFLECT would otherwise hide a camera that left it).
    h, w, frames = 240, 320, 40
    for seed in range(40):
        rng = np.random.default_rng(seed)
        name = TRAIN_PHOTOS[seed % len(TRAIN_PHOTOS)]
        image = photos.photo(name)
        camera, _ = photos._scene(class_name, rng, image, TEST_PHOTOS, frames, (h, w), photos.MOTIONS[version])
        corners = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], float).T
        for t in np.linspace(-photos._EXPOSURE / 2, frames - 1 + photos._EXPOSURE / 2, 50):
            x, y = camera.matrix(t, (h, w)) @ corners
            ph, pw = image.shape[:2]
            assert x.min() >= 0 and y.min() >= 0 and x.max() <= pw - 1 and y.max() <= ph - 1, (seed, name, t)


def _steps(frames: np.ndarray) -> list[float]:
    return [float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) for a, b in zip(frames[:-1], frames[1:])]


@pytest.mark.parametrize("version", photos.MOTIONS)
@pytest.mark.parametrize("class_name", CLASSES)
def test_every_class_moves(class_name, version):
    for group in (1, 2):
        frames = render_video(class_name, seed=0, group=group, clip=1, frames=8, test=group == 1, version=version)
        steps = _steps(frames)
        assert min(steps) > 0.5, (class_name, steps)  # never a still frame (noise alone gives ~1.5)


def test_a_still_scene_changes_only_by_noise_and_exposure():
    # The Tripod camera barely moves: far from the objects, consecutive frames differ by the
    # noise, while camera classes move the whole frame.
    tripod = render_video("Tripod", seed=1, group=2, clip=1, frames=6, test=False)
    pan = render_video("Pan", seed=1, group=2, clip=1, frames=6, test=False)
    assert np.median(_steps(tripod)) < np.median(_steps(pan))


def test_version_2_moves_fewer_pixels_than_version_1():
    # Real footage moves few of its pixels between frames (experiments/results/motion/); version 2
    # draws calmer cameras and smaller objects. Measured by OpenCV's Farneback flow, every class, at
    # UCF101's frame size: the share of pixels that move by more than 1 px.
    def moving_share(version):
        shares = []
        for class_name in CLASSES:
            for group in (2, 3):
                frames = render_video(class_name, seed=0, group=group, clip=1, frames=4, test=False, version=version)
                grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames[-2:]]
                flow = cv2.calcOpticalFlowFarneback(*grey, None, 0.5, 3, 15, 3, 5, 1.2, 0)
                shares.append((np.hypot(flow[..., 0], flow[..., 1]) > 1).mean())
        return float(np.mean(shares))

    first, second = moving_share(1), moving_share(2)
    assert second < 0.6 * first, (first, second)


def test_version_1_is_the_set_as_first_made():
    # A digest of version 1's frames as the set was first made (before versions existed): the
    # committed figures made on it stay reproducible.
    frames = np.stack([render_video(name, seed=1, group=2, clip=1, frames=3, test=False, size=(48, 64))
                       for name in CLASSES])
    assert np.array_equal(frames, np.stack([render_video(name, seed=1, group=2, clip=1, frames=3, test=False,
                                                         size=(48, 64), version=1) for name in CLASSES]))
    assert hashlib.sha256(frames.tobytes()).hexdigest() == VERSION_1_DIGEST


def test_videos_differ_and_seeds_matter():
    a = render_video("Pan", seed=0, group=2, clip=1, frames=3, test=False, size=(48, 64))
    assert np.array_equal(a, render_video("Pan", seed=0, group=2, clip=1, frames=3, test=False, size=(48, 64)))
    for other in (dict(seed=1, group=2, clip=1), dict(seed=0, group=3, clip=1), dict(seed=0, group=2, clip=2)):
        b = render_video("Pan", frames=3, test=False, size=(48, 64), **other)
        assert not np.array_equal(a, b), other


@pytest.mark.parametrize("change, match", [
    (dict(classes=len(CLASSES) + 1), "classes"),
    (dict(groups=1), "groups"),
    (dict(test_groups=3), "test_groups"),
    (dict(frames=1), "frames"),
    (dict(seed=-1), "seed"),
    (dict(size=(240, 321)), "size"),
])
def test_bad_arguments(tmp_path, change, match):
    with pytest.raises(ValueError, match=match):
        generate_photos(tmp_path / "set", **{**SMALL, **change}, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unknown_version():
    with pytest.raises(ValueError, match="unknown photo-set version 3; the versions are 1, 2"):
        render_video("Pan", seed=0, group=1, clip=1, frames=2, test=True, version=3)


def test_unknown_class_and_photo():
    with pytest.raises(ValueError, match="unknown photo-set class 'Dolly'"):
        render_video("Dolly", seed=0, group=1, clip=1, frames=2, test=True)
    with pytest.raises(ValueError, match="unknown photo 'lena'"):
        photos.photo("lena")
