"""pyext.data.stochastic: a small uncertain-futures set on disk (UCF101's tree and lists, every test
video's futures), futures that share their input frames exactly (decoded too) and differ from the
switch on, the branches' motions against hand-worked tracks, memoryless switches, classes told by
shape, determinism per seed, and argument and params errors."""
import re

import numpy as np
import pytest
import yaml

from cases import TEST_PARAMS
from pyext.config import ParamsError, parse_params
from pyext.data import stochastic
from pyext.data.manifest import build_manifest
from pyext.data.stochastic import BRANCHES, CLASSES, generate_stochastic, happened, render_futures, render_video
from pyext.data.synthetic import future_paths
from pyext.data.video import read_video

SIZE = (64, 96)
GEOMETRY = dict(branches=3, switch_probability=0.5, switch_at=4, test_frames=6)
SMALL = dict(classes=2, groups=3, test_groups=1, clips_per_group=1, frames=10, seed=0, size=SIZE, **GEOMETRY)


@pytest.fixture(scope="module")
def stochastic_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("stochastic") / "set"
    generate_stochastic(root, **SMALL, progress=False)
    return root


def test_tree_lists_videos_and_futures(stochastic_set):
    files = sorted(str(p.relative_to(stochastic_set)) for p in stochastic_set.rglob("*") if p.is_file())
    videos = [f"UCF-101/{c}/v_{c}_g{g:02d}_c01.avi" for c in CLASSES[:2] for g in (1, 2, 3)]
    futures = [path for c in CLASSES[:2] for path in future_paths(f"UCF-101/{c}/v_{c}_g01_c01.avi", 3)]
    lists = [f"ucfTrainTestlist/{name}" for name in ("classInd.txt", "testlist01.txt", "trainlist01.txt")]
    assert files == sorted(videos + futures + lists)
    assert futures[:3] == [f"futures/Discs/v_Discs_g01_c01_k{k}.avi" for k in (1, 2, 3)]
    assert (stochastic_set / "ucfTrainTestlist" / "testlist01.txt").read_text() == (
        "Discs/v_Discs_g01_c01.avi\nSquares/v_Squares_g01_c01.avi\n")
    for c in CLASSES[:2]:
        assert read_video(stochastic_set / f"UCF-101/{c}/v_{c}_g02_c01.avi").shape == (10, *SIZE, 3)  # training
        test = read_video(stochastic_set / f"UCF-101/{c}/v_{c}_g01_c01.avi")
        assert test.shape == (6, *SIZE, 3)  # one test clip: 4 inputs, 2 predicted frames
        # Decoded, the futures still share their inputs exactly (the encoder is causal) and differ after.
        decoded = np.stack([read_video(stochastic_set / p) for p in future_paths(f"UCF-101/{c}/v_{c}_g01_c01.avi", 3)])
        assert (decoded[:, :4] == decoded[:1, :4]).all()
        for a in range(3):
            for b in range(a + 1, 3):
                assert np.abs(decoded[a, 4].astype(int) - decoded[b, 4]).max() > 50, (c, a, b)
        # The test video is the future that happened.
        assert (test == decoded[happened(0, c, 1, 1, 3)]).all()


def test_futures_share_inputs_and_differ_after_the_switch():
    futures = render_futures("Triangles", 3, 1, 2, SIZE, **{**GEOMETRY, "branches": 4})
    assert futures.shape == (4, 6, *SIZE, 3) and futures.dtype == np.uint8
    assert (futures[:, :4] == futures[:1, :4]).all()
    moved = [[np.abs(futures[a, 4].astype(int) - futures[b, 4]).max() for b in range(4)] for a in range(4)]
    assert all(moved[a][b] > 50 for a in range(4) for b in range(4) if a != b), moved
    video = render_video("Triangles", 3, 1, 2, 40, True, SIZE, **{**GEOMETRY, "branches": 4})
    assert (video == futures[happened(3, "Triangles", 1, 2, 4)]).all()


def test_deterministic_per_seed(stochastic_set, tmp_path):
    generate_stochastic(tmp_path / "again", **SMALL, progress=False)
    for path in stochastic_set.rglob("*.avi"):
        assert (tmp_path / "again" / path.relative_to(stochastic_set)).read_bytes() == path.read_bytes(), path
    one, other = (render_video("Discs", seed, 2, 1, 8, False, SIZE) for seed in (0, 1))
    assert (one == render_video("Discs", 0, 2, 1, 8, False, SIZE)).all() and (one != other).any()


def test_branches_move_as_documented():
    """One object at (50, 40) heading +x at 3 px/frame on a 100 x 200 canvas, away from the borders."""
    start, heading, speed, radii = np.array([[50.0, 40.0]]), np.zeros(1), np.array([3.0]), np.array([5.0])
    expected = {"left": (53, 37), "right": (53, 43), "stop": (53, 40), "back": (50, 40)}
    for branch, (x, y) in expected.items():
        track = stochastic._walk(start, heading, speed, radii, [None, None, branch], 100, 200)
        assert np.allclose(track[0], [[50, 40], [53, 40], [x, y]]), branch  # image y points down: left is up
    # A stop, then a turn: the object moves again, along its turned heading.
    track = stochastic._walk(start, heading, speed, radii, [None, "stop", None, "left"], 100, 200)
    assert np.allclose(track[0], [[50, 40], [50, 40], [50, 40], [50, 37]])
    # The border reflects: at x = 193 heading +x, radius 5, the next step (196) passes 195 -> 194, heading -x.
    track = stochastic._walk(np.array([[193.0, 40.0]]), heading, speed, radii, [None, None, None], 100, 200)
    assert np.allclose(track[0, :, 0], [193, 194, 191])


def test_switches_are_memoryless_and_each_branch_equally_likely():
    rng = np.random.default_rng(0)
    draws = stochastic._switches(rng, 200_000, 3, 0.3)
    happened_at = np.array([s is not None for s in draws[1:]])
    assert abs(happened_at.mean() - 0.3) < 0.005
    # No timing cue: the chance of a switch does not depend on whether the frame before switched.
    assert abs(happened_at[1:][happened_at[:-1]].mean() - happened_at[1:][~happened_at[:-1]].mean()) < 0.01
    counts = np.array([sum(s == b for s in draws) for b in BRANCHES[:3]])
    assert np.allclose(counts / counts.sum(), 1 / 3, atol=0.01) and sum(s == "back" for s in draws) == 0


def test_each_class_is_its_shape():
    """The class shows in one frame, whatever the turn: each drawn mask's area over its circle's
    (a disc 1, a square 2/pi, an equilateral triangle 3 sqrt(3) / (4 pi), a cross of five squares
    2/pi) and over its convex hull's (convex shapes 1, the cross 5/7), as OpenCV measures its contour;
    no two classes agree on both."""
    import cv2

    theory = {"Discs": (1.0, 1.0), "Squares": (2 / np.pi, 1.0), "Triangles": (3 * np.sqrt(3) / (4 * np.pi), 1.0),
              "Crosses": (2 / np.pi, 5 / 7)}
    for name, (area, solidity) in theory.items():
        for seed in range(5):
            mask = (stochastic._shape_mask(name, 47, 21.0, np.random.default_rng(seed)) > 127).astype(np.uint8)
            (contour,), _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            measured = cv2.contourArea(contour)
            assert abs(measured / (np.pi * 21.0 ** 2) - area) < 0.04, (name, seed)
            # Pixel corners cut a convex shape's area by up to 6% against its hull.
            assert abs(measured / cv2.contourArea(cv2.convexHull(contour)) - solidity) < 0.07, (name, seed)


@pytest.mark.parametrize("change, message", [
    (dict(branches=5), "branches must be an int in [2, 4], got 5"),
    (dict(switch_probability=0.0), "switch_probability must be a number in (0, 1], got 0.0"),
    (dict(switch_at=6), "switch_at must be an int in [1, 5], got 6"),
])
def test_argument_errors(change, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        render_futures("Discs", 0, 1, 1, SIZE, **{**GEOMETRY, **change})


def test_params_section_and_its_errors(tmp_path):
    raw = yaml.safe_load(TEST_PARAMS.read_text())
    params = parse_params(raw, TEST_PARAMS)
    assert params.stochastic.generator_arguments(params.clip) == {
        "classes": 4, "groups": 5, "test_groups": 1, "clips_per_group": 3, "frames": 40, "seed": 0, "branches": 2,
        "switch_probability": 0.5, "switch_at": params.clip.input_frames, "test_frames": params.clip.test_frames}
    for key, value, problem in (("switch_probability", 1.5, "expected a number in (0, 1], got 1.5"),
                                ("branches", 5, "expected an int in 2..4, got 5")):
        bad = {**raw, "stochastic": {**raw["stochastic"], key: value}}
        with pytest.raises(ParamsError, match=f"stochastic.{key}: {re.escape(problem)}$"):
            parse_params(bad, TEST_PARAMS)


def test_prepare_generates_the_set_through_ucf101s_path(tmp_path):
    raw = yaml.safe_load(TEST_PARAMS.read_text())
    raw["data"]["source"] = "stochastic"
    raw["stochastic"].update(classes=1, groups=2, frames=6)
    params = parse_params(raw, TEST_PARAMS)
    manifest = build_manifest(params, lambda source: tmp_path / source)
    assert [(v.path, v.split) for v in manifest.videos] == [
        ("UCF-101/Discs/v_Discs_g02_c01.avi", "train"), ("UCF-101/Discs/v_Discs_g02_c02.avi", "train"),
        ("UCF-101/Discs/v_Discs_g02_c03.avi", "train"), ("UCF-101/Discs/v_Discs_g01_c01.avi", "test"),
        ("UCF-101/Discs/v_Discs_g01_c02.avi", "test"), ("UCF-101/Discs/v_Discs_g01_c03.avi", "test")]
    assert manifest.source == "stochastic"
    for video in manifest.videos:
        frames = read_video(tmp_path / "stochastic" / video.path)
        assert len(frames) == (6 if video.split == "train" else params.clip.test_frames)
        assert all((tmp_path / "stochastic" / p).is_file() for p in future_paths(video.path, 2)) == (video.split == "test")


def _extract_set(root, out, shard=(0, 1)):
    from dataclasses import replace

    from pyext.data.extract import extract
    from pyext.data.manifest import ucf101_manifest
    from pyext.files import DataFiles

    params = parse_params(yaml.safe_load(TEST_PARAMS.read_text()), TEST_PARAMS)
    extract(ucf101_manifest(root, 1), params.clip, replace(params.extract, workers=1, max_clips_per_video=2),
            DataFiles(out), {"test": True}, shard=shard, progress=False)
    return params.clip


def test_the_test_store_holds_every_future_of_each_clip(stochastic_set, tmp_path):
    from pyext.data.store import ClipArray, futures_of, open_store

    clip = _extract_set(stochastic_set, tmp_path)
    with open_store(tmp_path / "test.h5") as f:
        clips, (futures, branches) = ClipArray(f), futures_of(f)
        videos = [v.decode() for v in f["videos"][:]]
        assert branches == 3 and len(futures) == len(clips) == 2
        for i in range(len(clips)):
            video = videos[f["video"][i]]
            held = futures[i].reshape(3, -1, *clips.sizes[i], 3)
            assert held.shape == (3, clip.test_frames - clip.input_frames, *SIZE, 3)
            for k, path in enumerate(future_paths(video, 3)):
                assert (held[k] == read_video(stochastic_set / path)[clip.input_frames:]).all()
            name, group = video.split("/")[1], 1
            assert (held[happened(0, name, group, 1, 3)] == clips[i][clip.input_frames:]).all()
    with open_store(tmp_path / "patches.h5") as f:  # training patches record no futures
        assert futures_of(f) is None


def test_shards_of_a_store_with_futures_merge_with_them(stochastic_set, tmp_path):
    from pyext.data.extract import merge_shards
    from pyext.data.store import ClipArray, futures_of, open_store
    from pyext.files import DataFiles

    _extract_set(stochastic_set, tmp_path / "whole")
    for i in range(2):
        _extract_set(stochastic_set, tmp_path / f"{i}-of-2", shard=(i, 2))
    merge_shards([DataFiles(tmp_path / f"{i}-of-2") for i in range(2)], DataFiles(tmp_path / "merged"), {"test": True})
    with open_store(tmp_path / "whole" / "test.h5") as whole, open_store(tmp_path / "merged" / "test.h5") as merged:
        (a, k), (b, m) = futures_of(whole), futures_of(merged)
        assert k == m == 3 and len(a) == len(b) == 2
        assert all((a[i] == b[i]).all() and (ClipArray(whole)[i] == ClipArray(merged)[i]).all() for i in range(2))


def test_store_checks_know_the_futures(tmp_path):
    import h5py

    from pyext.data.store import ROW_FIELDS, ClipWriter, StoreError, futures_of, open_store

    clips = np.zeros((2, 6, 8, 8, 3), np.uint8)
    futures = np.arange(2 * 3 * 2 * 8 * 8 * 3, dtype=np.int64).astype(np.uint8).reshape(2, 3, 2, 8, 8, 3)
    rows = {name: np.zeros((2, 2) if name == "yx" else 2) for name in ROW_FIELDS}
    with ClipWriter(tmp_path / "test.h5", (6, None, None, 3), ["a.avi"], {}) as out:
        out.append(clips, futures, **rows)
    with open_store(tmp_path / "test.h5") as f:
        array, branches = futures_of(f)
        assert branches == 3 and (array[1].reshape(3, 2, 8, 8, 3) == futures[1]).all()
    # Rows without futures beside rows with them, either way round, are refused by name.
    for first, then in ((futures, None), (None, futures)):
        with pytest.raises(ValueError, match="every test clip needs its futures, or none may have them"):
            with ClipWriter(tmp_path / "mixed.h5", (6, None, None, 3), ["a.avi"], {}) as out:
                out.append(clips, first, **rows)
                out.append(clips, then, **rows)
        assert not (tmp_path / "mixed.h5").exists()
    # A store whose futures and clips disagree is not a store of this project.
    with h5py.File(tmp_path / "test.h5", "a") as f:
        f["futures_size"].resize(1, axis=0)
    with pytest.raises(StoreError, match="its futures and its 2 clips disagree"):
        open_store(tmp_path / "test.h5")
