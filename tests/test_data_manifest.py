"""Manifests of the UCF101, Sports-1M and folder sources, and extraction from them, on small
fixtures of real encoded video."""
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pyext.files import DataFiles
from pyext.config import load_params
from pyext.data.extract import extract
from pyext.data.dataset import store_domains
from pyext.data.store import StoreError, open_store, read_rows, store_videos

from pyext.data.manifest import (Manifest, ManifestError, VideoEntry, folder_manifest, read_manifest, sports1m_manifest,
                                 ucf101_manifest, with_domain_b, with_test_videos, write_manifest,
                                 build_manifest)
from pyext.data.video import write_video
from cases import TEST_PARAMS

REPO = Path(__file__).resolve().parents[1]


def _video(path, frames=8, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, np.random.default_rng(seed).integers(0, 255, (frames, 48, 64, 3), dtype=np.uint8))


def _extract_and_check(manifest, tmp_path):
    """Runs extraction on a manifest (real encoded video) and checks each split's rows and labels."""
    params = load_params(TEST_PARAMS)
    report = extract(manifest, params.clip, replace(params.extract, workers=1), DataFiles(tmp_path / "out"), {}, progress=False)
    assert report["videos_read"] == len(manifest.videos) and not report["skipped"]
    for name, split in (("patches.h5", "train"), ("test.h5", "test")):
        rows = read_rows(tmp_path / "out" / name)
        expected = {i: v.label for i, v in enumerate(manifest.videos) if v.split == split}
        assert set(rows["video"]) == set(expected)
        assert all(rows["label"][k] == expected[v] for k, v in enumerate(rows["video"]))


@pytest.fixture
def ucf101(tmp_path):
    """Two classes (folder case differing from the list, as UCF101's HandstandPushups), CRLF lists."""
    root = tmp_path / "ucf"
    for rel in ["ApplyLipstick/v_ApplyLipstick_g01_c01.avi", "ApplyLipstick/v_ApplyLipstick_g08_c01.avi",
                "HandstandPushups/v_HandStandPushups_g01_c01.avi", "HandstandPushups/v_HandStandPushups_g09_c02.avi"]:
        _video(root / "UCF-101" / rel)
    lists = root / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_bytes(b"1 ApplyLipstick\r\n2 HandstandPushups\r\n")
    (lists / "trainlist01.txt").write_bytes(
        b"ApplyLipstick/v_ApplyLipstick_g08_c01.avi 1\r\nHandstandPushups/v_HandStandPushups_g09_c02.avi 2\r\n"
        b"HandstandPushups/v_HandStandPushups_g10_c01.avi 2\r\n")
    (lists / "testlist01.txt").write_bytes(
        b"ApplyLipstick/v_ApplyLipstick_g01_c01.avi\r\nHandstandPushups/v_HandStandPushups_g01_c01.avi\r\n")
    return root


def test_ucf101_split_lists_and_labels(ucf101, tmp_path):
    m = ucf101_manifest(ucf101, 1)
    assert m.classes == ["ApplyLipstick", "HandstandPushups"]
    got = {(v.path, v.split, v.label, v.class_name) for v in m.videos}
    assert got == {
        ("UCF-101/ApplyLipstick/v_ApplyLipstick_g08_c01.avi", "train", 0, "ApplyLipstick"),
        ("UCF-101/HandstandPushups/v_HandStandPushups_g09_c02.avi", "train", 1, "HandstandPushups"),
        ("UCF-101/ApplyLipstick/v_ApplyLipstick_g01_c01.avi", "test", 0, "ApplyLipstick"),
        ("UCF-101/HandstandPushups/v_HandStandPushups_g01_c01.avi", "test", 1, "HandstandPushups"),
    }
    assert m.missing == [{"path": "UCF-101/HandstandPushups/v_HandStandPushups_g10_c01.avi",
                          "reason": "listed but not on disk"}]
    _extract_and_check(m, tmp_path)


def test_ucf101_errors_name_the_file(ucf101):
    with pytest.raises(ManifestError, match="trainlist02.txt"):
        ucf101_manifest(ucf101, 2)
    (ucf101 / "ucfTrainTestlist" / "classInd.txt").write_text("1 ApplyLipstick\n3 HandstandPushups\n")
    with pytest.raises(ManifestError, match=r"classInd.txt: line 2 should be '2 <ClassName>'"):
        ucf101_manifest(ucf101, 1)


def test_sports1m_partitions_missing_videos_and_multiple_labels(tmp_path):
    root = tmp_path / "s1m"
    _video(root / "oHg5SJYRHA0.mp4")
    _video(root / "sub" / "abcdefghijk.avi")
    (root / "train_partition.txt").write_text(
        "https://www.youtube.com/watch?v=oHg5SJYRHA0 3,1\nhttps://www.youtube.com/watch?v=notthere000 2\n")
    (root / "test_partition.txt").write_text("https://www.youtube.com/watch?v=abcdefghijk 0\n")
    m = sports1m_manifest(root)
    assert [(v.path, v.split, v.label, v.labels) for v in m.videos] == [
        ("oHg5SJYRHA0.mp4", "train", 3, (3, 1)), ("sub/abcdefghijk.avi", "test", 0, (0,))]
    assert m.missing == [{"path": "notthere000", "reason": "not downloaded (train_partition.txt)"}]
    assert m.classes == ["0", "1", "2", "3"]
    _extract_and_check(m, tmp_path)
    (root / "test_partition.txt").write_text("https://www.youtube.com/watch?v=abcdefghijk sports\n")
    with pytest.raises(ManifestError, match="test_partition.txt: line 1"):
        sports1m_manifest(root)


def test_folder_split_is_a_stable_hash_and_classes_are_subfolders(tmp_path):
    root = tmp_path / "mine"
    names = [f"{c}/clip{i:02d}.mp4" for c in ("cats", "dogs") for i in range(20)]
    for i, rel in enumerate(names):
        _video(root / rel, seed=i)
    (root / "notes.txt").write_text("not a video")
    m = folder_manifest(root)
    assert sorted(v.path for v in m.videos) == sorted(names)
    assert m.classes == ["cats", "dogs"]
    assert all(v.class_name == v.path.split("/")[0] for v in m.videos)
    splits = {v.path: v.split for v in m.videos}
    assert set(splits.values()) == {"train", "test"}
    _extract_and_check(m, tmp_path)
    _video(root / "cats" / "new.mp4")  # adding a video moves no other
    again = {v.path: v.split for v in folder_manifest(root).videos}
    assert all(again[p] == s for p, s in splits.items())


def test_folder_keeps_a_name_that_is_not_utf8_and_counts_bad_links(tmp_path):
    # A crawl's names: one not valid UTF-8 (Latin-1) stopped prepare with a UnicodeEncodeError; a
    # link loop and a dangling link were left out silently.
    root = tmp_path / "mine"
    names = [f"{c}/clip{i:02d}.mp4" for c in ("cats", "dogs") for i in range(6)]
    for i, rel in enumerate(names):
        _video(root / rel, seed=i)
    latin = os.fsencode(root) + b"/cats/caf\xe9 au lait.mp4"
    _video(Path(os.fsdecode(latin)), seed=99)
    (root / "dogs" / "loop.mp4").symlink_to("loop.mp4")
    (root / "dogs" / "gone.mp4").symlink_to(root / "nowhere.mp4")
    m = folder_manifest(root)
    odd = os.fsdecode(b"cats/caf\xe9 au lait.mp4")
    assert sorted(v.path for v in m.videos) == sorted([*names, odd])
    assert sorted(m.missing, key=lambda e: e["path"]) == [
        {"path": "dogs/gone.mp4", "reason": "a link to nothing"},
        {"path": "dogs/loop.mp4", "reason": "a link loop"}]
    write_manifest(tmp_path / "manifest.json", m)
    assert read_manifest(tmp_path / "manifest.json") == m
    params = load_params(TEST_PARAMS)
    report = extract(m, params.clip, replace(params.extract, workers=1), DataFiles(tmp_path / "out"), {}, progress=False)
    assert report["videos_read"] == len(m.videos) and not report["skipped"]
    for name in ("patches.h5", "test.h5"):
        with open_store(tmp_path / "out" / name) as f:
            assert store_videos(f) == [v.path for v in m.videos]  # the odd name round-trips


def test_test_videos_of_another_source_keep_their_root_and_class_names(ucf101, tmp_path):
    # Train on UCF101, test on a folder of one's own (the paper: Sports-1M -> UCF101): the folder's
    # test videos are read from its root, its classes follow UCF101's, a shared name shares an index.
    root = tmp_path / "mine"
    names = [f"{c}/clip{i:02d}.mp4" for c in ("HandstandPushups", "dogs") for i in range(12)]
    for i, rel in enumerate(names):
        _video(root / rel, seed=i)
    training, test = ucf101_manifest(ucf101, 1), folder_manifest(root)
    m = with_test_videos(training, test)
    assert m.classes == ["ApplyLipstick", "HandstandPushups", "dogs"]
    assert [v.path for v in m.videos if v.split == "train"] == [v.path for v in training.videos if v.split == "train"]
    tested = [v for v in m.videos if v.split == "test"]
    assert [v.path for v in tested] == [v.path for v in test.videos if v.split == "test"] and tested
    assert all(v.root == str(root) and m.root_of(v) == root for v in tested)
    assert all(m.classes[v.label] == v.class_name == v.path.split("/")[0] for v in tested)
    assert m.missing == [*training.missing, *({**e, "root": str(root)} for e in test.missing)]
    write_manifest(tmp_path / "manifest.json", m)
    assert read_manifest(tmp_path / "manifest.json") == m
    # One source's file names no root: a manifest written before test sources existed reads the same.
    assert "root" not in json.loads((tmp_path / "manifest.json").read_text())["videos"][0]
    _extract_and_check(m, tmp_path)


def test_domain_b_keeps_both_splits_its_root_and_a_domain_of_its_own(ucf101, tmp_path):
    # Translate UCF101 (domain A) to a folder of one's own (domain B): B's videos of both splits are
    # read from its root, marked domain 1; every store row's domain follows its video.
    root = tmp_path / "mine"
    for i, rel in enumerate(f"{c}/clip{i:02d}.mp4" for c in ("HandstandPushups", "dogs") for i in range(12)):
        _video(root / rel, seed=i)
    a, b = ucf101_manifest(ucf101, 1), folder_manifest(root)
    m = with_domain_b(a, b)
    assert m.classes == ["ApplyLipstick", "HandstandPushups", "dogs"]
    assert m.videos[:len(a.videos)] == a.videos
    theirs = m.videos[len(a.videos):]
    assert [(v.path, v.split) for v in theirs] == [(v.path, v.split) for v in b.videos]
    assert {v.split for v in theirs} == {"train", "test"}
    assert all(v.domain == 1 and m.root_of(v) == root and m.classes[v.label] == v.path.split("/")[0] for v in theirs)
    np.testing.assert_array_equal(m.domains(), [0] * len(a.videos) + [1] * len(b.videos))
    write_manifest(tmp_path / "manifest.json", m)
    assert read_manifest(tmp_path / "manifest.json") == m
    # Domain A's entries read as a one-source manifest's: no domain, no root.
    assert not {"domain", "root"} & set(json.loads((tmp_path / "manifest.json").read_text())["videos"][0])
    _extract_and_check(m, tmp_path)
    for name in ("patches.h5", "test.h5"):
        rows = read_rows(tmp_path / "out" / name)
        np.testing.assert_array_equal(store_domains(tmp_path / "out" / name, tmp_path / "manifest.json"),
                                      m.domains()[rows["video"]])
    write_manifest(tmp_path / "other.json", a)
    with pytest.raises(StoreError, match=r"patches.h5: its videos are not those of .*other.json: rerun the pipeline"):
        store_domains(tmp_path / "out" / "patches.h5", tmp_path / "other.json")


def test_one_class_of_a_set_against_another_of_the_same_set(ucf101, tmp_path):
    # "One class's look to another's": data.translate.source: same, split by data.translate.classes.
    import yaml

    from pyext.config import ParamsError, parse_params

    raw = yaml.safe_load(TEST_PARAMS.read_text())
    raw["data"].update(source="ucf101", root=str(ucf101))
    raw["data"]["translate"].update(source="same", classes=["HandstandPushups", "ApplyLipstick"])
    raw["model"]["family"] = "cyclegan"
    m = build_manifest(parse_params(raw), lambda source: tmp_path / source)
    whole = ucf101_manifest(ucf101, 1)
    assert [(v.path, v.domain, v.root) for v in m.videos] == \
        [(v.path, 0, "") for v in whole.videos if v.class_name == "HandstandPushups"] + \
        [(v.path, 1, str(ucf101)) for v in whole.videos if v.class_name == "ApplyLipstick"]
    assert m.missing == whole.missing and m.classes == whole.classes
    raw["data"]["translate"]["classes"] = ["HandstandPushups", "Skiing"]
    with pytest.raises(ParamsError) as info:
        build_manifest(parse_params(raw), lambda source: tmp_path / source)
    assert str(info.value) == ("params.yaml: data.translate.classes: 'Skiing' names no video of data.source: ucf101 "
                               "(its classes: ApplyLipstick, HandstandPushups)")


def test_manifest_round_trip(ucf101, tmp_path):
    m = ucf101_manifest(ucf101, 1)
    write_manifest(tmp_path / "manifest.json", m)
    assert read_manifest(tmp_path / "manifest.json") == m
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ManifestError, match="bad.json"):
        read_manifest(tmp_path / "bad.json")


@pytest.mark.parametrize("edit,problem", [
    (lambda v: v.update(split="tset"), r"videos\[1\].split: expected train or test, got 'tset'"),
    (lambda v: v.update(path=None), r"videos\[1\].path: expected a video's path relative to the root, got None"),
    (lambda v: v.update(label="Walk"), r"videos\[1\].label: expected class indices 0..1 .* got label 'Walk'"),
    (lambda v: v.update(label=7, labels=[7]), r"videos\[1\].label: expected class indices 0..1 .* got label 7"),
    (lambda v: v.update(path="a/one.avi"), r"videos\[1\].path: a/one.avi is listed twice \(also videos\[0\]\)"),
    (lambda v: v.update(domain=2), r"videos\[1\].domain: expected 0 \(domain A\) or 1 \(domain B\), got 2"),
], ids=["split", "null-path", "string-label", "label-out-of-range", "duplicate", "domain"])
def test_a_hand_edited_manifest_is_refused_with_one_line(tmp_path, edit, problem):
    # A typo in a split silently made a video a test video; a null path tracebacked in extract;
    # string labels and duplicates were accepted.
    m = Manifest("folder", str(tmp_path), 0, ["a", "b"], [VideoEntry("a/one.avi", "train", 0, "a", (0,)),
                                                            VideoEntry("b/two.avi", "test", 1, "b", (1,))])
    write_manifest(tmp_path / "manifest.json", m)
    data = json.loads((tmp_path / "manifest.json").read_text())
    edit(data["videos"][1])
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ManifestError, match=rf"^{tmp_path / 'manifest.json'}: {problem}"):
        read_manifest(tmp_path / "manifest.json")
