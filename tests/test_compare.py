"""experiments.compare: several runs' predictions beside the truth and the last frame."""
import h5py
import numpy as np
import pytest
from PIL import Image

from experiments.compare import GAP, TITLE_HEIGHT, main


def _write(tmp_path, clips, runs):
    test = tmp_path / "test.h5"
    with h5py.File(test, "w") as f:
        f["clips"] = clips
    paths = []
    for i, preds in enumerate(runs):
        path = tmp_path / f"run{i}.h5"
        with h5py.File(path, "w") as f:
            f["clip"] = np.arange(len(preds), dtype=np.int32)
            f["predictions"] = preds
            f.attrs.update(input_frames=2, crop_origin=np.array([1, 2]))
        paths.append(path)
    return test, paths


def test_columns_are_truth_last_frame_then_each_run(tmp_path):
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (3, 4, 10, 12, 3), dtype=np.uint8)  # 2 inputs, 2 steps, 10x12
    runs = [rng.integers(0, 256, (3, 2, 8, 8, 3), dtype=np.uint8) for _ in range(2)]  # cropped at (1, 2)
    test, (a, b) = _write(tmp_path, clips, runs)
    out = tmp_path / "cmp.png"
    main(["--test", str(test), "--clips", "2", "0", "--out", str(out), "--run", f"A={a}", "--run", f"B={b}"])
    picture = np.asarray(Image.open(out))
    assert picture.shape == (TITLE_HEIGHT + 2 * 8 + GAP, 4 * 8 + 3 * GAP, 3)
    for r, c in enumerate([2, 0]):
        expected = [clips[c, 2, 1:9, 2:10], clips[c, 1, 1:9, 2:10], runs[0][c, 0], runs[1][c, 0]]
        for i, frame in enumerate(expected):
            y, x = TITLE_HEIGHT + r * (8 + GAP), i * (8 + GAP)
            np.testing.assert_array_equal(picture[y:y + 8, x:x + 8], frame)


def test_a_run_of_other_clips_is_refused(tmp_path):
    clips = np.zeros((3, 4, 8, 8, 3), np.uint8)
    test, (a,) = _write(tmp_path, clips, [np.zeros((2, 2, 8, 8, 3), np.uint8)])
    with pytest.raises(SystemExit, match="run0.h5: not an evaluation of every clip"):
        main(["--test", str(test), "--out", str(tmp_path / "x.png"), "--run", f"A={a}"])
    assert not (tmp_path / "x.png").exists()


def test_clips_of_several_sizes_are_rows_of_their_own_size(tmp_path):
    """Test clips stored by size, predictions stored the same way with one crop origin each."""
    from pyext.data.store import ROW_FIELDS, ClipArrayWriter, ClipWriter

    rng = np.random.default_rng(1)
    clips = [rng.integers(0, 256, (4, h, w, 3), dtype=np.uint8) for h, w in ((10, 12), (6, 9))]
    fields = {name: np.zeros((1, 2) if name == "yx" else 1, dtype) for name, dtype in ROW_FIELDS.items()}
    with ClipWriter(tmp_path / "test.h5", (4, None, None, 3), ["a", "b"], {}) as w:
        for clip in clips:
            w.append(clip[None], **fields)
    preds = [rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8), rng.integers(0, 256, (2, 6, 8, 3), dtype=np.uint8)]
    with h5py.File(tmp_path / "run.h5", "w") as f:
        writer = ClipArrayWriter(f, "predictions", 2, None)
        for p in preds:
            writer.append(p[None])
        f["clip"] = np.arange(2, dtype=np.int32)
        f["crop_origin"] = np.array([[1, 2], [0, 0]], np.int16)
        f.attrs["input_frames"] = 2
    out = tmp_path / "cmp.png"
    main(["--test", str(tmp_path / "test.h5"), "--clips", "0", "1", "--out", str(out), "--run", f"A={tmp_path / 'run.h5'}"])
    picture = np.asarray(Image.open(out))
    assert picture.shape == (TITLE_HEIGHT + 8 + GAP + 6, 3 * 8 + 2 * GAP, 3)
    np.testing.assert_array_equal(picture[TITLE_HEIGHT:TITLE_HEIGHT + 8, :8], clips[0][2, 1:9, 2:10])
    y = TITLE_HEIGHT + 8 + GAP
    np.testing.assert_array_equal(picture[y:y + 6, :8], clips[1][2, :6, :8])
    np.testing.assert_array_equal(picture[y:y + 6, 2 * (8 + GAP):2 * (8 + GAP) + 8], preds[1][0])
