"""Manifests: which videos a run uses, with their split and labels, for every data source.

A manifest is a JSON file (``data/manifest.json``)::

    {"source": "ucf101", "root": "/data/ucf101", "split": 1, "classes": ["ApplyEyeMakeup", ...],
     "videos": [{"path": "UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", "split": "train",
                 "label": 0, "class_name": "ApplyEyeMakeup", "labels": [0]}, ...],
     "missing": [{"path": ..., "reason": ...}, ...]}

``path`` is relative to ``root``; ``label`` is a 0-based class index; ``labels`` keeps every label of
a video (Sports-1M videos may have several; ``label`` is the first). Listed videos that are not on
disk go to ``missing`` (counted, never fatal).

Where the test videos come from another source (``data.test.source``), the manifest holds the training
source's training videos and the test source's test videos; each of the latter names its own
``root`` (the test source's folder), and the classes are the training source's followed by the test
source's others (a class of both names one index).

Where the run translates between two sets (``data.translate.source``), the manifest holds
``data.source``'s videos (domain A) and the translate source's (domain B, both splits): each of the
latter has ``"domain": 1`` and its own ``root``, the classes are joined as for a test source; with
``data.translate.classes``, each domain holds its set's videos of one class (``same``: both of
``data.source``'s set).
"""
from __future__ import annotations

import errno
import hashlib
import importlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np

from ..config import NONE, SAME, SOURCES, ParamsError
from ..files import name_bytes, write_json

VIDEO_SUFFIXES = frozenset({".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v", ".flv", ".wmv", ".3gp"})


class ManifestError(ValueError):
    """A dataset folder or list file that cannot be read; the message names the file."""


@dataclass(frozen=True)
class VideoEntry:
    path: str  # relative to the manifest's root, with / separators
    split: str  # "train" or "test"
    label: int
    class_name: str
    labels: tuple[int, ...]
    root: str = ""  # the folder ``path`` is relative to where it is not the manifest's (a test source's)
    domain: int = 0  # 0: domain A (data.source's videos), 1: domain B (data.translate.source's)


@dataclass
class Manifest:
    source: str
    root: str
    split: int
    classes: list[str]
    videos: list[VideoEntry] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        data = asdict(self)
        # An entry under the manifest's root has no root of its own: the file of one source reads as before.
        # An entry of domain A has no domain either.
        data["videos"] = [{k: v for k, v in {**v, "labels": list(v["labels"])}.items()
                           if k not in ("root", "domain") or v} for v in data["videos"]]
        return data

    @classmethod
    def from_json(cls, data: dict) -> Manifest:
        videos = [VideoEntry(**{**v, "labels": tuple(v["labels"])}) for v in data["videos"]]
        return cls(data["source"], data["root"], data["split"], list(data["classes"]), videos, list(data["missing"]))

    def root_of(self, video: VideoEntry) -> Path:
        """The folder ``video.path`` is relative to."""
        return Path(video.root or self.root)

    def domains(self) -> np.ndarray:
        """Each video's domain, int8 ``(V,)`` (0: A, 1: B) in the manifest's order: the stores'
        ``video`` indices index it."""
        return np.array([v.domain for v in self.videos], np.int8)


def write_manifest(path: str | os.PathLike, manifest: Manifest) -> None:
    """Writes the manifest, its entries checked as :func:`read_manifest` checks them."""
    _check_entries(manifest, path)
    write_json(path, manifest.to_json())


def read_manifest(path: str | os.PathLike) -> Manifest:
    """The manifest at ``path``, its entries checked (a hand-edited one too).

    Raises:
        ManifestError: one line naming the file and the entry at fault: not JSON, a missing field, a
            split other than train or test, a path that is not a non-empty string, a label that is
            not one of the classes' indices, a video listed twice.
    """
    try:
        data = json.loads(Path(path).read_text())
        manifest = Manifest.from_json(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"{path}: not a readable manifest ({exc}); rerun the prepare stage") from exc
    _check_entries(manifest, path)
    return manifest


def _is_index(value: object, count: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < count


def _check_entries(manifest: Manifest, path: str | os.PathLike) -> None:
    """Each video's fields as prepare writes them (the manifest may be edited by hand)."""
    listed: dict[tuple[str, str], int] = {}
    count = len(manifest.classes)
    for i, video in enumerate(manifest.videos):
        where = f"{path}: videos[{i}]"
        if not isinstance(video.path, str) or not video.path.strip():
            raise ManifestError(f"{where}.path: expected a video's path relative to the root, got {video.path!r}")
        if video.split not in ("train", "test"):
            raise ManifestError(f"{where}.split: expected train or test, got {video.split!r} ({video.path})")
        if not _is_index(video.label, count) or not all(_is_index(label, count) for label in video.labels):
            raise ManifestError(f"{where}.label: expected class indices 0..{count - 1} (of the manifest's {count} "
                                f"classes), got label {video.label!r}, labels {list(video.labels)!r} ({video.path})")
        if not isinstance(video.root, str):
            raise ManifestError(f"{where}.root: expected the folder of a test source's videos, got {video.root!r}")
        if video.domain not in (0, 1) or isinstance(video.domain, bool):
            raise ManifestError(f"{where}.domain: expected 0 (domain A) or 1 (domain B), got {video.domain!r} "
                                f"({video.path})")
        key = (video.root, video.path)
        if key in listed:
            raise ManifestError(f"{where}.path: {video.path} is listed twice (also videos[{listed[key]}])")
        listed[key] = i


def _lines(path: Path) -> list[str]:
    """Non-empty stripped lines of a list file (Windows line endings included)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return [line.strip() for line in text.splitlines() if line.strip()]


def ucf101_manifest(root: Path, split: int) -> Manifest:
    """UCF101 at ``root``: ``UCF-101/<Class>/*.avi`` and ``ucfTrainTestlist/`` with ``classInd.txt``,
    ``trainlist0<split>.txt`` (``Class/v_Class_gNN_cNN.avi <1-based label>``) and ``testlist0<split>.txt``.
    Labels are 0-based indices in ``classInd.txt`` order."""
    lists = root / "ucfTrainTestlist"
    classes: list[str] = []
    for number, line in enumerate(_lines(lists / "classInd.txt"), start=1):
        index, _, name = line.partition(" ")
        if index != str(number) or not name:
            raise ManifestError(f"{lists / 'classInd.txt'}: line {number} should be '{number} <ClassName>', got {line!r}")
        classes.append(name.strip())
    # The official lists differ from folder names in case (HandstandPushups/v_HandStandPushups_...).
    by_name = {name.lower(): i for i, name in enumerate(classes)}
    manifest = Manifest("ucf101", str(root), split, classes)
    for split_name, list_file in (("train", f"trainlist0{split}.txt"), ("test", f"testlist0{split}.txt")):
        for line in _lines(lists / list_file):
            rel = line.split()[0]
            class_dir = rel.split("/")[0]
            if class_dir.lower() not in by_name:
                raise ManifestError(f"{lists / list_file}: {rel}: class {class_dir!r} is not in classInd.txt")
            label = by_name[class_dir.lower()]
            _add(manifest, root, f"UCF-101/{rel}", split_name, [label])
    return manifest


def _youtube_id(url: str) -> str:
    parsed = urlparse(url)
    if parsed.query:
        ids = parse_qs(parsed.query).get("v")
        if ids:
            return ids[0]
    return parsed.path.rstrip("/").split("/")[-1]


def sports1m_manifest(root: Path) -> Manifest:
    """Sports-1M at ``root``: videos downloaded by the user, named by YouTube id (any suffix, any
    sub-folder), and the partition files ``train_partition.txt`` / ``test_partition.txt`` with lines
    ``URL label[,label...]``. Class names come from ``labels.txt`` (one per line) when present."""
    names_file = root / "labels.txt"
    classes = _lines(names_file) if names_file.exists() else []
    found, bad = _videos_under(root)
    on_disk = {p.stem: p.relative_to(root).as_posix() for p in found}
    manifest = Manifest("sports1m", str(root), 0, classes, missing=bad)
    max_label = -1
    for split_name in ("train", "test"):
        list_file = root / f"{split_name}_partition.txt"
        for number, line in enumerate(_lines(list_file), start=1):
            url, _, label_text = line.partition(" ")
            try:
                labels = [int(x) for x in label_text.replace(" ", "").split(",") if x]
            except ValueError:
                labels = []
            if not labels:
                raise ManifestError(f"{list_file}: line {number} should be 'URL label[,label]', got {line!r}")
            max_label = max(max_label, *labels)
            video_id = _youtube_id(url)
            if video_id not in on_disk:
                manifest.missing.append({"path": video_id, "reason": f"not downloaded ({list_file.name})"})
                continue
            _add(manifest, root, on_disk[video_id], split_name, labels)
    if not classes:
        manifest.classes = [str(i) for i in range(max_label + 1)]
    elif max_label >= len(classes):
        raise ManifestError(f"{names_file}: names {len(classes)} classes, but the partition files use label {max_label}")
    return manifest


def _videos_under(root: Path) -> tuple[list[Path], list[dict]]:
    """The video files under ``root``, and the video-named links that lead to none (a loop, or a
    link to nothing) as ``missing`` entries."""
    videos, bad = [], []
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() not in VIDEO_SUFFIXES:
            continue
        if p.is_file():
            videos.append(p)
        elif p.is_symlink():
            try:
                os.stat(p)
            except OSError as exc:
                reason = "a link loop" if exc.errno == errno.ELOOP else "a link to nothing"
                bad.append({"path": p.relative_to(root).as_posix(), "reason": reason})
    return videos, bad


def folder_manifest(root: Path, test_fraction: float = 0.1) -> Manifest:
    """Every video under ``root``. The class is the first sub-folder (one class when videos lie
    directly in ``root``); the split is decided by a stable hash of the relative path, so adding
    videos never moves existing ones between train and test."""
    found, bad = _videos_under(root)
    videos = [p.relative_to(root).as_posix() for p in found]
    class_of = {rel: (rel.split("/")[0] if "/" in rel else root.name) for rel in videos}
    classes = sorted(set(class_of.values()))
    index = {name: i for i, name in enumerate(classes)}
    manifest = Manifest("folder", str(root), 0, classes, missing=bad)
    for rel in videos:
        digest = int.from_bytes(hashlib.sha256(name_bytes(rel)).digest()[:8], "big")
        split_name = "test" if digest / 2**64 < test_fraction else "train"
        _add(manifest, root, rel, split_name, [index[class_of[rel]]])
    return manifest


def _add(manifest: Manifest, root: Path, rel: str, split_name: str, labels: list[int]) -> None:
    if not (root / rel).is_file():
        manifest.missing.append({"path": rel, "reason": "listed but not on disk"})
        return
    names = manifest.classes
    name = names[labels[0]] if labels[0] < len(names) else str(labels[0])
    manifest.videos.append(VideoEntry(rel, split_name, labels[0], name, tuple(labels)))


def source_manifest(params, source: str, root: Path | None, split: int, generated_root: Path) -> Manifest:
    """The manifest of one data source (both its splits); for a generated source (``demo``, ``photos``,
    ``stochastic``), first generates the set under ``generated_root`` (laid out like UCF101) and reads it
    through the UCF101 code path.

    Args:
        params: :class:`pyext.config.Params` (a generated source's own section).
        source: a ``data.source`` name; ``root`` and ``split``: its videos' folder (unused by a
            generated source) and UCF101 split.
        generated_root: where a generated set is written.
    """
    generator = SOURCES[source].generator
    if generator:  # imported on use: reading the user's videos needs neither the demo's drawing nor photographs
        module, name = generator.split(":")
        generate = getattr(importlib.import_module(module), name)
        generate(generated_root, **getattr(params, source).generator_arguments(params.clip))
        manifest = ucf101_manifest(generated_root, 1)
        manifest.source = source
        return manifest
    if source == "ucf101":
        return ucf101_manifest(root, split)
    if source == "sports1m":
        return sports1m_manifest(root)
    return folder_manifest(root)


def with_test_videos(training: Manifest, test: Manifest) -> Manifest:
    """``training``'s training videos and ``test``'s test videos (each naming ``test.root``); the classes
    are ``training``'s, then ``test``'s that it lacks, the test videos' labels renumbered to match."""
    classes, renumber = _joined_classes(training, test)
    videos = [v for v in training.videos if v.split == "train"]
    for v in test.videos:
        if v.split == "test":
            labels = tuple(renumber[k] if k < len(renumber) else k for k in v.labels)
            videos.append(replace(v, label=labels[0], labels=labels, root=test.root))
    missing = training.missing + [{**m, "root": test.root} for m in test.missing]
    return Manifest(training.source, training.root, training.split, classes, videos, missing)


def _joined_classes(first: Manifest, second: Manifest) -> tuple[list[str], list[int]]:
    """``first``'s classes, then ``second``'s that it lacks; and where each of ``second``'s went."""
    classes = first.classes + [name for name in second.classes if name not in first.classes]
    index = {name: i for i, name in enumerate(classes)}
    return classes, [index[name] for name in second.classes]


def with_domain_b(domain_a: Manifest, domain_b: Manifest) -> Manifest:
    """Every video of ``domain_a``, then every video of ``domain_b`` (both splits), each of the latter
    of domain 1 and naming ``domain_b.root``; classes joined as :func:`with_test_videos` joins them."""
    classes, renumber = _joined_classes(domain_a, domain_b)
    videos = list(domain_a.videos)
    for v in domain_b.videos:
        labels = tuple(renumber[k] if k < len(renumber) else k for k in v.labels)
        videos.append(replace(v, label=labels[0], labels=labels, root=domain_b.root, domain=1))
    missing = domain_a.missing + [{**m, "root": domain_b.root} for m in domain_b.missing]
    return Manifest(domain_a.source, domain_a.root, domain_a.split, classes, videos, missing)


def of_class(manifest: Manifest, name: str, key: str) -> Manifest:
    """``manifest`` with its videos of class ``name`` alone (a domain that is one class of a set).

    Raises:
        ParamsError: no video of that class, naming ``key`` (the params key that asked for it).
    """
    videos = [v for v in manifest.videos if v.class_name == name]
    if not videos:
        raise ParamsError("params.yaml", "data.translate.classes",
                          f"{name!r} names no video of {key}: {manifest.source} (its classes: "
                          f"{', '.join(manifest.classes)})")
    return replace(manifest, videos=videos)


def build_manifest(params, generated: Callable[[str], Path]) -> Manifest:
    """The run's manifest: ``params.data.source``'s videos, or, with ``data.test.source``, its training
    videos and the test source's test videos (:func:`with_test_videos`), or, with
    ``data.translate.source``, its videos and domain B's (:func:`with_domain_b`).

    Args:
        params: :class:`pyext.config.Params` (its ``data`` section and the generated sources' own).
        generated: where a generated source is rendered (``data/<source>/``), by source name.
    """
    data = params.data
    manifest = source_manifest(params, data.source, data.root, data.split, generated(data.source))
    b = data.translate
    if b.source != NONE:  # the rules keep data.test.source: same here
        root = Path(b.root) if b.root else None
        # The same set again lists its missing videos once, under domain A.
        other = replace(manifest, missing=[]) if b.source == SAME else \
            source_manifest(params, b.source, root, b.split, generated(b.source))
        if b.classes:  # one class of each set
            manifest = of_class(manifest, b.classes[0], "data.source")
            other = of_class(other, b.classes[1], "data.source" if b.source == SAME else "data.translate.source")
        return with_domain_b(manifest, other)
    if data.test.source == SAME:
        return manifest
    root = Path(data.test.root) if data.test.root else None
    test = source_manifest(params, data.test.source, root, data.test.split, generated(data.test.source))
    return with_test_videos(manifest, test)
