"""experiments.footage: real clips from pinned archives, checked, cut into segments that never span a
shot's cut, laid out like UCF101 with one source as the test split; here from local archives of
generated clips (the tests never download)."""
import hashlib
import json
import tarfile
import zipfile
from dataclasses import replace

import numpy as np
import pytest

from experiments.footage import FootageError, Source, lay_out, segments
from pyext.data.manifest import ucf101_manifest
from pyext.data.video import read_video, write_video


def test_segments_never_span_a_cut_and_drop_each_shots_leftovers():
    assert segments(100, 40) == [(0, 40), (40, 80)]
    assert segments(190, 40, cuts=(116,)) == [(0, 40), (40, 80), (116, 156)]  # the kivy clip's shot change
    assert segments(120, 40, cuts=(0, 40, 120)) == [(0, 40), (40, 80), (80, 120)]  # cuts at the ends are none
    assert segments(39, 40) == []


def _clip(frames: int, seed: int) -> np.ndarray:
    """A textured 48x64 frame with a bright square crossing it, one pixel a frame (wrapping)."""
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 120, (48, 64, 3), dtype=np.uint8)
    frame[10:22, 4:16] = 230
    return np.stack([np.roll(frame, t, axis=1) for t in range(frames)])


@pytest.fixture
def archives(tmp_path):
    """Two sources: a clip of 90 frames (a cut at 50) in a zip, one of 85 in a gzipped tar."""
    (tmp_path / "clips").mkdir()
    sources = []
    for name, frames, kind in (("walk", 90, "zip"), ("hand", 85, "tar")):
        clip = tmp_path / "clips" / f"{name}.avi"
        write_video(clip, _clip(frames, seed=len(name)))
        archive = tmp_path / f"{name}.{kind}"
        if kind == "zip":
            with zipfile.ZipFile(archive, "w") as z:
                z.write(clip, f"data/{name}.avi")
        else:
            with tarfile.open(archive, "w:gz") as t:
                t.add(clip, f"package/{name}.avi")
        sources.append(Source(name, f"{name} 1.0", archive.as_uri(), hashlib.sha256(archive.read_bytes()).hexdigest(),
                              f"{'data' if kind == 'zip' else 'package'}/{name}.avi", "CC0", name,
                              cuts=(50,) if name == "walk" else ()))
    return tuple(sources)


def test_the_footage_is_laid_out_like_ucf101_with_one_source_as_the_test_split(archives, tmp_path):
    out = tmp_path / "footage"
    record = lay_out(out, test="hand", cache=tmp_path / "cache", sources=archives, progress=False)
    lists = {name: (out / "ucfTrainTestlist" / name).read_text().splitlines()
             for name in ("classInd.txt", "trainlist01.txt", "testlist01.txt")}
    assert lists == {"classInd.txt": ["1 Walk", "2 Hand"],
                     "trainlist01.txt": ["Walk/v_Walk_g01_c01.avi 1", "Walk/v_Walk_g01_c02.avi 1"],
                     "testlist01.txt": ["Hand/v_Hand_g01_c01.avi", "Hand/v_Hand_g01_c02.avi"]}
    assert json.loads((out / "footage.json").read_text()) == record
    walk = record["sources"][0]
    assert walk["segments"] == [[0, 40], [50, 90]] and walk["split"] == "train" and walk["frames"] == 90
    assert walk["clip_sha256"] == hashlib.sha256((tmp_path / "clips" / "walk.avi").read_bytes()).hexdigest()
    # Each segment is the clip's frames start..stop, through one more encoding.
    source = read_video(tmp_path / "clips" / "walk.avi")
    second = read_video(out / "UCF-101" / "Walk" / "v_Walk_g01_c02.avi")
    assert second.shape == (40, *source.shape[1:])
    right, shifted = (np.abs(second.astype(int) - source[a:a + 40]).mean() for a in (50, 45))
    assert right < 6 and right < shifted / 2, (right, shifted)
    manifest = ucf101_manifest(out, 1)  # the project's UCF101 reader takes it as it is
    assert manifest.classes == ["Walk", "Hand"]
    assert sorted((v.path.split("/")[-1], v.split) for v in manifest.videos) == [
        ("v_Hand_g01_c01.avi", "test"), ("v_Hand_g01_c02.avi", "test"),
        ("v_Walk_g01_c01.avi", "train"), ("v_Walk_g01_c02.avi", "train")]
    # A source aside is not written at all.
    aside = lay_out(out, test="hand", aside="walk", cache=tmp_path / "cache", sources=archives, progress=False)
    assert [s["name"] for s in aside["sources"]] == ["hand"] and not (out / "UCF-101" / "Walk").exists()


def test_bad_archives_and_arguments_stop_with_one_line_and_write_nothing(archives, tmp_path):
    out, cache = tmp_path / "footage", tmp_path / "cache"
    wrong = (replace(archives[0], sha256="0" * 64), archives[1])
    with pytest.raises(FootageError, match=r"walk.zip: SHA-256 [0-9a-f]{64}, not the pinned 0{64} of file://"):
        lay_out(out, test="hand", cache=cache, sources=wrong, progress=False)
    assert not out.exists()
    with pytest.raises(FootageError, match=r"^--test: unknown source 'nobody'; the sources are walk, hand$"):
        lay_out(out, test="nobody", cache=cache, sources=archives, progress=False)
    with pytest.raises(FootageError, match=r"^--aside: 'hand' is the test source; keep aside another one$"):
        lay_out(out, test="hand", aside="hand", cache=cache, sources=archives, progress=False)
    missing = (replace(archives[0], member="data/other.avi"), archives[1])
    with pytest.raises(FootageError, match=r"walk.zip: holds no file data/other.avi$"):
        lay_out(out, test="hand", cache=cache, sources=missing, progress=False)
    gone = (replace(archives[0], url=(tmp_path / "nowhere.zip").as_uri()), archives[1])
    with pytest.raises(FootageError, match=r"nowhere.zip: cannot download"):
        lay_out(out, test="hand", cache=tmp_path / "empty", sources=gone, progress=False)
    assert not out.exists() and list((tmp_path / "empty").iterdir()) == []  # no partial download left
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a footage folder"):
        lay_out(tmp_path / "mine", test="hand", cache=cache, sources=archives, progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"


def test_the_study_s_table_sets_the_test_s_margins_beside_the_verdict_s():
    from experiments.footage_study import table

    def figures(model: float, last: float, flow: float) -> dict:
        return {method: {step: {"moving": value, "whole": value + 5} for step in ("step1", "step2")}
                for method, value in (("model", model), ("last_frame", last), ("optical_flow", flow))}

    agreeing = {"run": "box-seed0", "clips": 11, "test_figures": figures(22.84, 22.67, 31.34),
                "validation": {"scores": {"moving": 20.79, "whole": 29.18}, "last_frame": {"moving": 19.12, "whole": 27.63}}}
    # The test finds the model worse where the verdict found it better: the signs disagree.
    disagreeing = {**agreeing, "run": "cup-seed1", "test_figures": figures(20.0, 21.0, 25.0)}
    lines = table([agreeing, disagreeing]).splitlines()
    assert lines[2] == "| box-seed0 | 11 | +0.17 | +0.17 | +0.17 | +0.17 | +8.67 | +8.67 | +1.67 | +1.55 | yes |"
    assert lines[3] == "| cup-seed1 | 11 | -1.00 | -1.00 | -1.00 | -1.00 | +4.00 | +4.00 | +1.67 | +1.55 | no |"
    # A measure the validation could not take (no clip moved) is no agreement.
    unknown = {**agreeing, "validation": {"scores": {"moving": None, "whole": 29.18}, "last_frame": agreeing["validation"]["last_frame"]}}
    assert table([unknown]).splitlines()[2].endswith("| - | +1.55 | no |")


def test_a_table_of_runs_that_trained_nothing_has_no_verdict_columns():
    # The pretrained predictor's runs: the test's margins and optical flow's, no validation to compare with.
    from experiments.footage_study import table

    figures = {method: {step: {"moving": value, "whole": None if method == "optical_flow" else value + 2}
                        for step in ("step1", "step2")}
               for method, value in (("model", 23.5), ("last_frame", 23.0), ("optical_flow", 26.25))}
    lines = table([{"run": "city-pretrained", "clips": 7, "test_figures": figures}]).splitlines()
    assert lines[0] == ("| run | clips | test moving 1 | test whole 1 | test moving 2 | test whole 2 | flow moving 1 "
                        "| flow whole 1 |")
    assert lines[2] == "| city-pretrained | 7 | +0.50 | +0.50 | +0.50 | +0.50 | +3.25 | - |"


def test_the_motion_study_summarises_scores_and_flow_as_the_filter_and_the_evaluation_threshold_them():
    from experiments.motion_study import summary, table

    # Ten patches scored 0..9 and flow magnitudes 0..0.9 and 2..2.9: the filter at 8 keeps 2 of the
    # ten; the evaluation at 1 px counts the second ten pixels as moving, whose mean flow is 2.45.
    measured = {"scores": np.arange(10, dtype=np.float32),
                "flow": np.concatenate([np.arange(10) / 10, 2 + np.arange(10) / 10]).astype(np.float32)}
    s = summary(measured, videos=3, min_motion=8.0, flow_threshold=1.0)
    assert s["kept_share"] == 0.2 and s["moving_share"] == 0.5 and s["moving_flow_mean"] == 2.45
    assert s["score_percentiles"]["50"] == 4.5 and s["patches"] == 10
    assert s["flow_percentiles"]["50"] == round(float(np.percentile(measured["flow"], 50)), 2)
    row = table({"box": s}, 8.0, 1.0).splitlines()[2]
    assert row.startswith("| box | 3 | 0.9 | 2.25 | 4.5 | 6.75 | 8.1 | 20% |") and row.endswith("| 50% | 2.45 |")
