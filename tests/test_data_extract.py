"""Extraction and filtering on a tiny generated set with broken files mixed in: patch pixels
against the decoded source frames, motion scores, worker-count independence, the skip report,
atomic outputs, the filter's selection and the Dataset."""
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from pyext.files import DataFiles
from pyext.config import ParamsError, load_params
from pyext.data.dataset import ClipDataset, to_model, to_uint8
from pyext.data.demo import generate_demo
from pyext.data.extract import extract, motion_score
from pyext.data.filter import filter_patches, select, select_by_domain
from pyext.data.manifest import Manifest, VideoEntry, ucf101_manifest
from pyext.data.store import (ROW_FIELDS, ClipArray, ClipWriter, StoreError, compress_clips, merge_stores, open_store,
                              read_rows)
from pyext.data.video import read_video, write_video
from cases import REPO, TEST_PARAMS

REPO = Path(__file__).resolve().parents[1]
BROKEN = ("empty.avi", "random.avi", "text.avi", "truncated.avi")


def _broken_corpus(video: bytes) -> dict[str, bytes]:
    """Nothing, noise, text, and the first half of a real video."""
    return dict(zip(BROKEN, (b"", bytes(range(256)) * 40, b"not a video\n", video[: len(video) // 2])))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A 2-class demo set (12 frames a video) plus broken files listed as training videos."""
    root = tmp_path_factory.mktemp("videos")
    generate_demo(root, classes=2, groups=3, test_groups=1, clips_per_group=2, frames=12, seed=3, progress=False)
    manifest = ucf101_manifest(root, 1)
    for name, data in _broken_corpus((root / manifest.videos[0].path).read_bytes()).items():
        (root / name).write_bytes(data)
        manifest.videos.append(VideoEntry(name, "train", 0, "Translate", (0,)))
    params = load_params(TEST_PARAMS)
    return manifest, params.clip, replace(params.extract, workers=1, max_clips_per_video=2, crops_per_clip=3)


def _extract(dataset, out: Path, **changes):
    manifest, clip, params = dataset
    return extract(manifest, clip, replace(params, **changes), DataFiles(out), {"test": True}, progress=False)


@pytest.fixture(scope="module")
def extracted(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("extract")
    return out, _extract(dataset, out)


def test_motion_score_by_hand():
    clips = np.zeros((2, 3, 2, 2, 3), np.uint8)
    clips[1, 1] = 6  # differences 6 then -6 everywhere: RMS 6
    np.testing.assert_allclose(motion_score(clips), [0.0, 6.0])


def test_report_counts_and_skips_broken_files(dataset, extracted):
    out, report = extracted
    manifest, clip, params = dataset
    assert sorted(s["path"] for s in report["skipped"]) == sorted(BROKEN)
    assert all(s["error"] and "\n" not in s["error"] for s in report["skipped"])
    n_train = sum(v.split == "train" for v in manifest.videos) - len(BROKEN)
    assert report["videos_read"] == len(manifest.videos) - len(BROKEN)
    assert report["patches"] == n_train * 2 * 3 == report["train_clips"] * 3
    assert report["test_clips"] == sum(v.split == "test" for v in manifest.videos)
    assert (out / "extract_report.json").exists()


def test_patches_are_the_source_pixels_and_motion_is_recomputed(dataset, extracted):
    out, _ = extracted
    manifest, clip, _ = dataset
    rows = read_rows(out / "patches.h5")
    with open_store(out / "patches.h5") as f:
        clips = f["clips"][:]
        assert f.attrs["schema_version"] == 2 and '"test": true' in f.attrs["params"]
    p = clip.patch
    for i in range(0, len(clips), 5):
        video = read_video(Path(manifest.root) / rows["videos"][rows["video"][i]])
        s, (y, x) = rows["start"][i], rows["yx"][i]
        np.testing.assert_array_equal(clips[i], video[s:s + clip.train_frames, y:y + p, x:x + p])
        diff = np.diff(clips[i].astype(np.float64), axis=0)
        assert rows["motion"][i] == pytest.approx(np.sqrt((diff**2).mean()), rel=1e-5)
        assert rows["label"][i] == manifest.videos[rows["video"][i]].label


def test_stores_read_without_hdf5plugin_and_refuse_writes_by_name(extracted, tmp_path):
    # A machine without hdf5plugin (its HDF5 filter) still reads the clips: ClipArray decodes the
    # Zstandard chunks itself. Writing names the missing package and leaves no file behind.
    out, _ = extracted
    script = textwrap.dedent(f"""
        import sys
        sys.modules["hdf5plugin"] = None  # import hdf5plugin now raises ImportError
        import numpy as np
        from pyext.data.store import ClipArray, ClipWriter, StoreError, open_store
        with open_store({str(out / "patches.h5")!r}) as f:
            np.save({str(tmp_path / "clip.npy")!r}, ClipArray(f)[1])
        try:
            with ClipWriter({str(tmp_path / "new.h5")!r}, (4, 8, 8, 3), ["v"], {{"params": {{}}}}):
                pass
        except StoreError as exc:
            print(exc)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "new.h5: writing a store needs the package hdf5plugin" in result.stdout
    assert not (tmp_path / "new.h5").exists() and list(tmp_path.iterdir()) == [tmp_path / "clip.npy"]
    with open_store(out / "patches.h5") as f:
        np.testing.assert_array_equal(np.load(tmp_path / "clip.npy"), ClipArray(f)[1])


def test_clips_are_checked_zstandard_frames(extracted, tmp_path):
    """Chunks are Zstandard frames with checksums (h5py reads them through hdf5plugin's filter);
    a damaged one is an error naming the file and clip, not wrong pixels (the filter does not
    check: ClipArray decodes the frames itself)."""
    import hdf5plugin
    import zstandard

    out, _ = extracted
    damaged = tmp_path / "patches.h5"
    damaged.write_bytes((out / "patches.h5").read_bytes())
    with open_store(out / "patches.h5") as f:
        clips = f["clips"]
        assert clips.id.get_create_plist().get_filter(0)[0] == hdf5plugin.ZSTD_ID
        chunk = clips.id.read_direct_chunk((1, 0, 0, 0, 0))[1]
        assert zstandard.get_frame_parameters(chunk).has_checksum
        np.testing.assert_array_equal(ClipArray(f)[1], clips[1])
        info = clips.id.get_chunk_info(1)
    with open(damaged, "r+b") as f:
        f.seek(info.byte_offset + info.size // 2)
        f.write(bytes(range(64)))
    with open_store(damaged) as f:
        with pytest.raises(StoreError, match=f"^{damaged}: clip 1 cannot be read"):
            ClipArray(f)[1]


def test_test_clips_are_full_frames(dataset, extracted):
    out, _ = extracted
    manifest, clip, _ = dataset
    with open_store(out / "test.h5") as f:
        clips = ClipArray(f)
        assert clips.clip_shape == (clip.test_frames, None, None, 3) and (clips.sizes == (240, 320)).all()
        first, video = clips[0], f["video"][0]
    np.testing.assert_array_equal(first, read_video(Path(manifest.root) / manifest.videos[video].path)[:clip.test_frames])


def _assert_same_store(a_path: Path, b_path: Path) -> None:
    """The two stores hold the same clips (at the same sizes) and fields, row for row."""
    with open_store(a_path) as a, open_store(b_path) as b:
        clips_a, clips_b = ClipArray(a), ClipArray(b)
        assert clips_a.clip_shape == clips_b.clip_shape and len(clips_a) == len(clips_b)
        np.testing.assert_array_equal(clips_a.sizes, clips_b.sizes)
        for i in range(len(clips_a)):
            np.testing.assert_array_equal(clips_a[i], clips_b[i])
        for key in ROW_FIELDS:
            np.testing.assert_array_equal(a[key][:], b[key][:])


def _moving(frames: int, h: int, w: int, seed: int) -> np.ndarray:
    """A textured picture sliding 2 pixels a frame, uint8 (frames, h, w, 3)."""
    texture = np.random.default_rng(seed).integers(0, 256, (h, w + 2 * frames, 3), dtype=np.uint8)
    return np.stack([texture[:, 2 * t:2 * t + w] for t in range(frames)])


def test_test_videos_of_other_sizes_keep_their_own_size(tmp_path):
    """The first test video's frame size decided which test videos were kept: with a wide video
    first, the other test videos were skipped. Each keeps its own size (and aspect) now."""
    root = tmp_path / "videos"
    root.mkdir()
    sizes = {"a_wide.avi": (36, 64), "b.avi": (48, 64), "c.avi": (48, 64), "d_tall.avi": (64, 48)}
    for i, (name, (h, w)) in enumerate(sizes.items()):
        write_video(root / name, _moving(8, h, w, seed=i))
    manifest = Manifest("folder", str(root), 1, ["X"], [VideoEntry(name, "test", 0, "X", (0,)) for name in sizes])
    p = load_params(TEST_PARAMS)
    report = extract(manifest, p.clip, replace(p.extract, workers=1), DataFiles(tmp_path / "out"), {}, progress=False)
    assert report["skipped"] == [] and report["test_clips"] == 4
    with open_store(tmp_path / "out" / "test.h5") as f:
        clips, video = ClipArray(f), f["video"][:]
        assert [tuple(s) for s in clips.sizes] == list(sizes.values())
        for i in range(4):
            source = read_video(root / list(sizes)[video[i]])
            np.testing.assert_array_equal(clips[i], source[:p.clip.test_frames])
        np.testing.assert_array_equal(clips.read(3, slice(1, 2), slice(0, 5)), clips[3][1:2, :5])


def test_stores_of_schema_version_1_still_load(tmp_path):
    """A store written before clips were kept by size (one ``clips`` dataset, version 1)."""
    import h5py

    clips = np.arange(2 * 3 * 4 * 6 * 3, dtype=np.uint8).reshape(2, 3, 4, 6, 3)
    with h5py.File(tmp_path / "old.h5", "w") as f:
        f.create_dataset("clips", data=clips, chunks=(1, 3, 4, 6, 3), compression="gzip", compression_opts=1)
        for name, dtype in ROW_FIELDS.items():
            f[name] = np.zeros((2, 2) if name == "yx" else 2, dtype)
        f["videos"] = np.array([b"a.avi", b"b.avi"], dtype=h5py.string_dtype())
        f.attrs["schema_version"] = 1
    with open_store(tmp_path / "old.h5") as f:
        old = ClipArray(f)
        assert old.clip_shape == (3, 4, 6, 3) and [tuple(s) for s in old.sizes] == [(4, 6)] * 2
        np.testing.assert_array_equal(old[1], clips[1])
    np.testing.assert_array_equal(ClipDataset(tmp_path / "old.h5")[0], to_model(clips[0]))


def test_shards_of_clips_by_size_merge_in_order(tmp_path):
    """Two shards of test clips of several sizes join into one store, in video order."""
    fields = {name: np.zeros((1, 2) if name == "yx" else 1, dtype) for name, dtype in ROW_FIELDS.items()}
    shards = {0: [(0, (4, 6)), (2, (6, 4))], 1: [(1, (6, 4)), (3, (4, 6))]}  # shard: (video, size) rows
    for shard, rows in shards.items():
        with ClipWriter(tmp_path / f"{shard}.h5", (2, None, None, 3), list("abcd"), {}) as w:
            for video, (h, w_) in rows:
                w.append(np.full((1, 2, h, w_, 3), video, np.uint8), **{**fields, "video": np.array([video])})
    assert merge_stores([tmp_path / "0.h5", tmp_path / "1.h5"], tmp_path / "all.h5", {}) == 4
    with open_store(tmp_path / "all.h5") as f:
        clips = ClipArray(f)
        assert list(f["video"][:]) == [0, 1, 2, 3]
        assert [tuple(s) for s in clips.sizes] == [(4, 6), (6, 4), (6, 4), (4, 6)]
        assert [int(clips[i].max()) for i in range(4)] == [0, 1, 2, 3]


def test_output_does_not_depend_on_the_number_of_workers(dataset, extracted, tmp_path):
    out, _ = extracted
    _extract(dataset, tmp_path, workers=2)
    for name in ("patches.h5", "test.h5"):
        _assert_same_store(out / name, tmp_path / name)


@pytest.mark.parametrize("error", [-3, 2])
def test_clips_follow_the_decoded_frames_when_the_packet_count_is_wrong(dataset, extracted, tmp_path,
                                                                        monkeypatch, error):
    # The clips are planned from the packet count before decoding; a decoder returning another
    # number of frames must give the clips of the frames it returned, as if planned from them.
    import pyext.data.extract as extract_module
    from pyext.data.video import count_packets

    monkeypatch.setattr(extract_module, "count_packets", lambda path: count_packets(path) + error)
    out, _ = extracted
    _extract(dataset, tmp_path)
    for name in ("patches.h5", "test.h5"):
        _assert_same_store(out / name, tmp_path / name)


_PEAK_MEMORY = """
import sys
from bench.extract import peak_memory_mb
from dataclasses import replace
from pathlib import Path
from pyext.config import load_params
from pyext.data.extract import extract
from pyext.data.manifest import Manifest, VideoEntry
from pyext.files import DataFiles
root, params = Path(sys.argv[1]), load_params(sys.argv[2])
settings = replace(params.extract, workers=1, max_clips_per_video=20)
def run(name, out):
    manifest = Manifest("folder", str(root), 1, ["X"], [VideoEntry(name, sys.argv[4], 0, "X", (0,))])
    return extract(manifest, params.clip, settings, DataFiles(root / out), {}, progress=False)
run("warm-up.avi", "warm-up")  # the libraries' one-time allocations, before the baseline
before = peak_memory_mb()
report = run(sys.argv[3], "out")
assert report["videos_read"] == 1, report
print(peak_memory_mb() - before)
"""


def _moving_texture(frames: int) -> np.ndarray:
    """A 240x320 noise texture sliding one pixel a frame, as a view (no memory per frame)."""
    base = np.random.default_rng(0).integers(0, 256, (240, 320 + frames, 3), dtype=np.uint8)
    return np.lib.stride_tricks.as_strided(base, (frames, 240, 320, 3), (3, *base.strides), writeable=False)


@pytest.mark.parametrize("split", ["train", "test"])
def test_peak_memory_does_not_grow_with_video_length(tmp_path, split):
    # Decoding a whole 3000-frame 320x240 video into one array took 691 MB (1.4 GB at its peak); a
    # streaming extraction keeps only the clips being filled. Peak memory is the child's own (VmHWM:
    # ru_maxrss would start from this process's size, inherited at fork).
    import subprocess
    import sys

    for name, frames in (("warm-up.avi", 10), ("short.avi", 300), ("long.avi", 3000)):
        write_video(tmp_path / name, np.ascontiguousarray(_moving_texture(frames)) if frames < 3000
                    else _moving_texture(frames))
    growth = {}
    for name in ("short.avi", "long.avi"):
        run = subprocess.run([sys.executable, "-c", _PEAK_MEMORY, str(tmp_path), str(TEST_PARAMS), name, split],
                             cwd=REPO, capture_output=True, text=True, check=True)
        growth[name] = float(run.stdout.split()[-1])
    # 3000 frames are 691 MB: a tenth of that is far above what the clips being filled take.
    assert growth["long.avi"] < 2 * growth["short.avi"] + 69, growth


def test_an_interrupted_run_leaves_no_output(dataset, tmp_path, monkeypatch):
    from pyext.data.store import ClipWriter

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ClipWriter, "append_compressed", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _extract(dataset, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_filter_keeps_moving_patches_and_holds_out_whole_videos(extracted, tmp_path):
    out, _ = extracted
    params = replace(load_params(TEST_PARAMS).filter, min_motion=2.0, val_fraction=0.25, max_per_video=4)
    rows = read_rows(out / "patches.h5")
    train, val = select(rows, params)
    assert np.all(rows["motion"][np.concatenate([train, val])] >= 2.0)
    assert not set(rows["video"][train]) & set(rows["video"][val])
    assert max(np.bincount(rows["video"][np.concatenate([train, val])])) <= 4
    report = filter_patches(out / "patches.h5", tmp_path / "train.h5", tmp_path / "val.h5", params, {})
    assert (report["train"], report["val"]) == (len(train), len(val)) and report["bytes_per_patch"] > 0
    with open_store(out / "patches.h5") as src, open_store(tmp_path / "train.h5") as dst:
        np.testing.assert_array_equal(dst["clips"][:], src["clips"][train])
        np.testing.assert_array_equal(dst["motion"][:], src["motion"][train])


@pytest.mark.parametrize("videos,fraction,held_out", [(3, 0.1, 1), (2, 0.1, 1), (3, 0.9, 2), (1, 0.5, 0),
                                                      (3, 0.0, 0), (20, 0.1, 2)])
def test_filter_holds_out_a_video_of_a_small_set_and_keeps_one_for_training(videos, fraction, held_out):
    # 3 videos at val_fraction 0.1 held out none (round(0.3) = 0): training then had no validation.
    rows = {"motion": np.full(videos * 4, 10.0, np.float32), "video": np.repeat(np.arange(videos), 4).astype(np.int32)}
    params = replace(load_params(TEST_PARAMS).filter, min_motion=1.0, min_kept=0, max_per_video=0, val_fraction=fraction)
    train, val = select(rows, params)
    assert len(np.unique(rows["video"][val])) == held_out
    assert len(np.unique(rows["video"][train])) == videos - held_out


def test_filter_min_kept_lowers_the_threshold_to_keep_the_most_moving(extracted, tmp_path):
    out, _ = extracted
    rows = read_rows(out / "patches.h5")
    motion = rows["motion"]
    high = float(np.sort(motion)[-3])  # only 3 patches reach it
    base = replace(load_params(TEST_PARAMS).filter, min_motion=high, val_fraction=0.0, max_per_video=0)
    train, _ = select(rows, replace(base, min_kept=0))
    assert len(train) == np.count_nonzero(motion >= high) == 3
    wanted = len(motion) // 2
    train, _ = select(rows, replace(base, min_kept=wanted))
    # The most moving `wanted` patches (ties at the cut included), none of the others.
    cut = np.sort(motion)[::-1][wanted - 1]
    assert len(train) >= wanted and set(train) == set(np.flatnonzero(motion >= cut))
    report = filter_patches(out / "patches.h5", tmp_path / "t.h5", tmp_path / "v.h5", replace(base, min_kept=wanted), {})
    assert report["threshold"] == pytest.approx(cut, abs=1e-4) and report["train"] == len(train)
    assert f"fewer than filter.min_kept ({wanted}): the threshold was lowered to" in report["why"]
    # Enough patches pass min_motion: min_kept changes nothing.
    assert select(rows, replace(base, min_motion=0.0, min_kept=wanted))[0].tolist() == list(range(len(motion)))
    report = filter_patches(out / "patches.h5", tmp_path / "t.h5", tmp_path / "v.h5", replace(base, min_kept=3), {})
    assert report["threshold"] == pytest.approx(high) and report["why"].startswith(f"filter.min_motion {high:g} kept 3")


def test_dataset_feeds_a_dataloader_with_workers(extracted):
    out, _ = extracted
    data = ClipDataset(out / "patches.h5")
    loader = torch.utils.data.DataLoader(data, batch_size=4, num_workers=2)
    batches = list(loader)
    assert sum(len(b) for b in batches) == len(data)
    assert batches[0].shape == (4, 5, 3, 32, 32) and batches[0].dtype == torch.float32
    assert batches[0].min() >= -1 and batches[0].max() <= 1
    with open_store(out / "patches.h5") as f:
        np.testing.assert_array_equal(to_uint8(batches[0]), f["clips"][:4])


def test_model_conversion_round_trip():
    frames = np.random.default_rng(0).integers(0, 256, (2, 3, 5, 4, 3), dtype=np.uint8)
    x = to_model(frames)
    assert x.shape == (2, 3, 3, 5, 4)
    np.testing.assert_array_equal(to_uint8(x), frames)


def test_shards_merge_into_the_unsharded_output(dataset, extracted, tmp_path):
    from pyext.data.extract import merge_shards

    out, report = extracted
    parts = [tmp_path / f"{i}-of-3" for i in range(3)]
    manifest, clip, params = dataset
    for i, part in enumerate(parts):
        extract(manifest, clip, params, DataFiles(part), {"test": True}, shard=(i, 3), progress=False)
    merged = merge_shards([DataFiles(p) for p in parts], DataFiles(tmp_path / "merged"), {"test": True})
    assert {k: v for k, v in merged.items() if k != "seconds"} == {k: v for k, v in report.items()
                                                                    if k not in ("seconds", "shard")}
    for name in ("patches.h5", "test.h5"):
        _assert_same_store(out / name, tmp_path / "merged" / name)


def test_a_rerun_on_unchanged_inputs_writes_the_same_bytes(dataset, extracted, tmp_path):
    # The stores held the extraction's wall-clock seconds (and HDF5 keeps creation times), so a rerun
    # wrote other bytes and DVC saw changed data downstream. Timings stay in the report.
    import time

    out, report = extracted
    time.sleep(1.1)  # another second of creation time
    again = _extract(dataset, tmp_path)
    for name in ("patches.h5", "test.h5"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name
    assert "seconds" in again and "seconds" in report


def test_compress_clips_makes_one_checked_zstandard_frame_a_clip():
    import zstandard
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 40, (3, 5, 8, 8, 3), dtype=np.uint8)
    clips[1] = 0  # one that shrinks to almost nothing
    chunks = compress_clips(clips[:, :, ::-1])  # a non-contiguous view, as cut windows may be
    # The frames one compress() call a clip makes (the stores' bytes depend on it), and they decode back.
    one_by_one = zstandard.ZstdCompressor(level=1, write_checksum=True)
    assert chunks == [one_by_one.compress(np.ascontiguousarray(c).tobytes()) for c in clips[:, :, ::-1]]
    assert [zstandard.ZstdDecompressor().decompress(c) for c in chunks] == \
        [np.ascontiguousarray(c).tobytes() for c in clips[:, :, ::-1]]
    assert all(zstandard.get_frame_parameters(c).has_checksum for c in chunks)
    assert compress_clips(np.zeros((0, 5, 8, 8, 3), np.uint8)) == []


def test_filter_keeps_each_domain_apart(extracted, tmp_path):
    # A still domain B beside a moving domain A: one threshold would keep none of B's patches; each
    # domain keeps filter.min_kept of its own and holds out videos of its own.
    out, _ = extracted
    rows = read_rows(out / "patches.h5")
    videos = len(rows["videos"])
    domains = (np.arange(videos) % 2).astype(np.int8)  # every other training video is B's
    row_domain = domains[rows["video"]]
    params = replace(load_params(TEST_PARAMS).filter, min_motion=float(rows["motion"].max()) + 1, min_kept=3,
                     val_fraction=0.25, max_per_video=0)
    train, val, counts = select_by_domain(rows, params, domains)
    for d in (0, 1):
        mine = np.flatnonzero(row_domain == d)
        alone_train, alone_val = select({k: rows[k][mine] for k in ("motion", "video")}, params)
        np.testing.assert_array_equal(train[row_domain[train] == d], mine[alone_train])
        np.testing.assert_array_equal(val[row_domain[val] == d], mine[alone_val])
        assert counts[d]["train"] == len(alone_train) >= 3
    report = filter_patches(out / "patches.h5", tmp_path / "train.h5", tmp_path / "val.h5", params, {}, domains)
    assert report["domains"]["B"] == counts[1] and report["train"] == len(train)
    assert report["why"].startswith("domain A: filter.min_motion")
    # A domain without patches stops before any output, naming its source's key.
    with pytest.raises(ParamsError, match=r"^params.yaml: data.translate.source: its videos give no training patch "
                                          r"\(0 candidates of domain B"):
        # The last video is a broken file: domain B of it alone has no candidate patch.
        filter_patches(out / "patches.h5", tmp_path / "t.h5", tmp_path / "v.h5", params, {},
                       (np.arange(videos) == videos - 1).astype(np.int8))
    assert not (tmp_path / "t.h5").exists()
    with pytest.raises(StoreError, match=r"patches.h5: holds patches of \d+ videos, the manifest lists 1"):
        filter_patches(out / "patches.h5", tmp_path / "t.h5", tmp_path / "v.h5", params, {}, np.ones(1, np.int8))
