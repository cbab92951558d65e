"""pyext.data.demo: a small demo set on disk (UCF101's tree and list files, decodable videos),
determinism, distinct videos per seed, and visible, not trivially predictable motion per class."""
import itertools

import numpy as np
import pytest

from pyext.data.demo import CLASSES, generate_demo, render_clip
from pyext.data.video import read_video

# 2 classes, 3 groups (group 1 is the test split), 1 clip per group, 10 frames.
SMALL = dict(classes=2, groups=3, test_groups=1, clips_per_group=1, frames=10, seed=0)
VIDEOS = [f"{name}/v_{name}_g{group:02d}_c01.avi" for name in ("Translate", "Rotate") for group in (1, 2, 3)]
TRAIN = [v for v in VIDEOS if "_g01_" not in v]
TEST = [v for v in VIDEOS if "_g01_" in v]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "ucf"
    generate_demo(root, **SMALL, progress=False)
    return root


@pytest.fixture(scope="module")
def decoded(demo):
    return {name: read_video(demo / "UCF-101" / name) for name in VIDEOS}


def test_classes():
    assert CLASSES == ("Translate", "Rotate", "Scale", "Bounce", "CameraPan", "Occlude")


def test_tree(demo):
    files = sorted(str(p.relative_to(demo)) for p in demo.rglob("*") if p.is_file())
    lists = [f"ucfTrainTestlist/{name}" for name in ("classInd.txt", "testlist01.txt", "trainlist01.txt")]
    assert files == sorted([f"UCF-101/{v}" for v in VIDEOS] + lists)
    # Nothing but the tree: the temporary folder was renamed into place.
    assert [p.name for p in demo.parent.iterdir()] == ["ucf"]


def test_list_files(demo):
    lists = demo / "ucfTrainTestlist"
    assert (lists / "classInd.txt").read_bytes() == b"1 Translate\n2 Rotate\n"
    assert (lists / "trainlist01.txt").read_bytes() == (
        b"Translate/v_Translate_g02_c01.avi 1\n"
        b"Translate/v_Translate_g03_c01.avi 1\n"
        b"Rotate/v_Rotate_g02_c01.avi 2\n"
        b"Rotate/v_Rotate_g03_c01.avi 2\n")
    assert (lists / "testlist01.txt").read_bytes() == (
        b"Translate/v_Translate_g01_c01.avi\n"
        b"Rotate/v_Rotate_g01_c01.avi\n")


def test_videos_decode(decoded):
    for name, frames in decoded.items():
        assert frames.shape == (10, 240, 320, 3) and frames.dtype == np.uint8, name


def test_deterministic(demo, decoded, tmp_path):
    again = tmp_path / "again"
    generate_demo(again, **SMALL, progress=False)
    for name in VIDEOS:
        assert (again / "UCF-101" / name).read_bytes() == (demo / "UCF-101" / name).read_bytes(), name
        assert np.array_equal(read_video(again / "UCF-101" / name), decoded[name]), name


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_videos_differ(decoded):
    for a, b in itertools.combinations(VIDEOS, 2):
        assert mean_abs_diff(decoded[a], decoded[b]) > 10, (a, b)


def test_test_videos_differ_from_train_videos(decoded):
    for test, train in itertools.product(TEST, TRAIN):
        assert mean_abs_diff(decoded[test][0], decoded[train][0]) > 10, (test, train)


def assert_motion(frames: np.ndarray, name: str) -> None:
    # Each step changes the frame (copying the last frame is never exact), and visibly overall.
    steps = [mean_abs_diff(a, b) for a, b in zip(frames[:-1], frames[1:])]
    assert min(steps) > 0.05, (name, steps)
    assert np.mean(steps) > 0.3, (name, steps)


def test_motion_on_disk(decoded):
    for name, frames in decoded.items():
        assert_motion(frames, name)


@pytest.mark.parametrize("class_name", CLASSES)
def test_motion_per_class(class_name):
    for group in (1, 2):
        assert_motion(render_clip(class_name, seed=0, group=group, clip=1, frames=10), class_name)


def test_render_is_deterministic_per_video():
    def render(seed, group, clip):
        return render_clip("CameraPan", seed=seed, group=group, clip=clip, frames=3, size=(48, 64))

    first = render(3, 2, 1)
    assert np.array_equal(first, render(3, 2, 1))
    for other in ((4, 2, 1), (3, 1, 1), (3, 2, 2)):  # another seed, group, clip
        assert not np.array_equal(first, render(*other)), other


def test_regenerate_replaces(tmp_path):
    root = tmp_path / "demo"
    args = dict(classes=1, groups=2, test_groups=1, clips_per_group=1, frames=2, seed=0, size=(16, 16),
                progress=False)
    generate_demo(root, **args)
    (root / "UCF-101" / "Translate" / "stale.avi").write_bytes(b"old")
    generate_demo(root, **args)
    assert sorted(p.name for p in (root / "UCF-101" / "Translate").iterdir()) == [
        "v_Translate_g01_c01.avi", "v_Translate_g02_c01.avi"]
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]


def test_refuses_a_foreign_root(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="notes.txt"):
        generate_demo(tmp_path, classes=1, groups=2, test_groups=1, clips_per_group=1, frames=2, seed=0,
                      progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("change, match", [
    (dict(classes=7), "classes"),
    (dict(groups=1), "groups"),
    (dict(test_groups=3), "test_groups"),
    (dict(test_groups=0), "test_groups"),
    (dict(frames=1), "frames"),
    (dict(seed=-1), "seed"),
    (dict(size=(240, 321)), "size"),
])
def test_bad_arguments(tmp_path, change, match):
    with pytest.raises(ValueError, match=match):
        generate_demo(tmp_path / "demo", **{**SMALL, **change}, progress=False)
    assert list(tmp_path.iterdir()) == []
