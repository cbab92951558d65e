"""The clip geometry and where the videos come from: ``clip``, ``data``, and the generated sets'
sections (``demo``, ``photos``), with the table of data sources (:data:`SOURCES`)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from typing import Annotated

from pydantic import BeforeValidator, Strict

from .rules import Expect, Rule, _choice, _Count, _float, _int, _list, _OptionalPath, _Path, _Seed, section

__all__ = ["SOURCES", "GENERATED_SOURCES", "DATA_SOURCES", "DEMO_MAX_CLASSES", "PHOTOS_MAX_CLASSES",
           "STOCHASTIC_MAX_CLASSES", "STOCHASTIC_MAX_BRANCHES", "SAME", "Source", "ClipParams", "DataParams",
           "DataTestParams", "DataTranslateParams", "DOMAIN_KEYS", "NONE", "DemoParams", "PhotosParams", "StochasticParams", "rules"]


@dataclass(frozen=True)
class Source:
    """A ``data.source``'s facts.

    Attributes:
        generator: a generated set's renderer, ``module:function`` (prepare renders the set into
            ``data/<source>/`` with its section's keys, then reads it as UCF101); '' for the user's
            videos under ``data.root``.
        classes: a generated set's classes, one motion kind (or, for ``stochastic``, one object
            shape) each (its section's ``classes`` takes the first ones).
        classes_in_one_frame: whether one frame shows a video's class (an object's shape does, a
            motion does not): the class-based measures (``evaluate.classifier: builtin``) need it.
    """

    generator: str = ""
    classes: tuple[str, ...] = ()
    classes_in_one_frame: bool = False


# The generated sources come first: prepare renders them into data/<source>/.
SOURCES: dict[str, Source] = {
    "demo": Source("pyext.data.demo:generate_demo", ("Translate", "Rotate", "Scale", "Bounce", "CameraPan", "Occlude")),
    "photos": Source("pyext.data.photos:generate_photos", ("Tripod", "Handheld", "Pan", "Zoom", "Follow")),
    "stochastic": Source("pyext.data.stochastic:generate_stochastic", ("Discs", "Squares", "Triangles", "Crosses"),
                         classes_in_one_frame=True),
    "ucf101": Source(),
    "sports1m": Source(),
    "folder": Source(),
}
GENERATED_SOURCES = tuple(name for name, source in SOURCES.items() if source.generator)
DATA_SOURCES = tuple(SOURCES)
DEMO_MAX_CLASSES = len(SOURCES["demo"].classes)
PHOTOS_MAX_CLASSES = len(SOURCES["photos"].classes)
PHOTOS_VERSIONS = 2  # pyext.data.photos.MOTIONS: 1, 2
STOCHASTIC_MAX_CLASSES = len(SOURCES["stochastic"].classes)
STOCHASTIC_MAX_BRANCHES = 4  # pyext.data.stochastic.BRANCHES: left, right, stop, back


@section
class ClipParams:
    """Clip geometry shared by every stage (data, model, evaluation).

    Attributes:
        input_frames: frames the predictor sees.
        output_frames: frames predicted jointly in one step (the paper's 8 -> 8 sets both to 8).
        patch: side of the square training patches, in pixels.
        test_steps: recursive prediction steps stored per full-frame test clip.
    """

    input_frames: _Count
    output_frames: _Count
    patch: _int(4)
    test_steps: _Count

    @property
    def train_frames(self) -> int:
        """Frames of a training clip: the inputs and one step of outputs.

        >>> ClipParams(input_frames=4, output_frames=1, patch=32, test_steps=2).train_frames
        5
        """
        return self.input_frames + self.output_frames

    @property
    def test_frames(self) -> int:
        """Frames of a test clip: the inputs and ``test_steps`` recursive steps of outputs.

        >>> ClipParams(input_frames=4, output_frames=1, patch=32, test_steps=2).test_frames
        6
        """
        return self.input_frames + self.test_steps * self.output_frames


SAME = "same"  # data.test.source: the test videos are data.source's own


@section
class DataTestParams:
    """Where the test videos come from, when not from the training videos' source (the paper trained
    on Sports-1M and tested on UCF101): that source's test split stands in for data.source's.

    Attributes:
        source: ``same`` (data.source's own test videos) or a data source (its test videos; data.source
            then gives the training videos alone).
        root: ``source``'s videos, as ``data.root`` (absolute once loaded); '' with ``same`` or a
            generated source.
        split: as ``data.split``, for ``source``.
    """

    source: _choice(SAME, *DATA_SOURCES)
    root: _OptionalPath
    split: _int(1, 3)


NONE = "none"  # data.translate.source: no domain B (every family but the translators)
# The key naming each domain's videos, A's and B's (a domain's index is its place here).
DOMAIN_KEYS = ("data.source", "data.translate.source")


# Two distinct class names: domain A's class, then domain B's.
_ClassPair = Annotated[tuple[Annotated[str, Strict()], ...], BeforeValidator(_list),
                       Expect("[] or a list of two distinct class names [A's, B's]")]


@section
class DataTranslateParams:
    """Domain B of the translation families (``cyclegan``, ``discogan``, ``dualgan``), whose domain
    A is ``data.source``'s videos: named as ``data.test`` names a test source, read by the same stages
    (both its splits: its training videos are B's training and validation videos, its test videos
    B's test clips).

    Attributes:
        source: ``none`` (no domain B: every other family), ``same`` (``data.source``'s videos
            again: ``classes`` then splits them) or a data source other than ``data.source`` (or
            ``data.source`` at another root).
        root: ``source``'s videos, as ``data.root`` (absolute once loaded); '' with ``none``,
            ``same`` or a generated source.
        split: as ``data.split``, for ``source``.
        classes: ``[]`` (every video of each domain) or ``[a, b]``: domain A is ``data.source``'s
            videos of class ``a``, B the translate source's of class ``b`` (one class's look to
            another's: a set whose classes one frame shows).
    """

    source: _choice(NONE, SAME, *DATA_SOURCES)
    root: _OptionalPath
    split: _int(1, 3)
    classes: _ClassPair


@section
class DataParams:
    """Where the videos come from.

    Attributes:
        source: ``demo``, ``photos`` or ``stochastic`` (generated), ``ucf101``, ``sports1m`` or
            ``folder`` (any videos).
        root: the user's videos, absolute (resolved against the params file's folder); unused by
            the generated sources, which write into ``data/<source>/``.
        split: UCF101 official train/test split, 1..3 (the generated sets have split 1 only).
        test: where the test videos come from (:class:`DataTestParams`).
        translate: domain B of the translation families (:class:`DataTranslateParams`).
    """

    source: _choice(*DATA_SOURCES)
    root: _Path
    split: _int(1, 3)
    test: DataTestParams
    translate: DataTranslateParams

    @property
    def test_source(self) -> str:
        """The source of the test videos: ``test.source``, or ``source`` where that is ``same``."""
        return self.source if self.test.source == SAME else self.test.source

    @property
    def sources(self) -> tuple[str, ...]:
        """The run's sources, the training videos' first, then the test videos' or domain B's where
        another (one where the test videos come from it too and there is no domain B)."""
        other = self.translate.source if self.translate.source not in (NONE, SAME) else self.test_source
        return (self.source,) if other == self.source else (self.source, other)


@section
class DemoParams:
    """The generated demo set (``data.source: demo``), laid out like UCF101.

    Attributes:
        classes: motion kinds, one class each (at most ``DEMO_MAX_CLASSES``).
        groups: groups ``g01..gNN`` per class.
        test_groups: groups ``1..test_groups`` are test videos, never seen in training.
        clips_per_group: videos per group.
        frames: frames per video.
        seed: random seed of the generator.
    """

    classes: _int(1, DEMO_MAX_CLASSES)
    groups: _Count
    test_groups: _Count
    clips_per_group: _Count
    frames: _Count
    seed: _Seed

    def generator_arguments(self, clip: ClipParams) -> dict:
        """The keyword arguments of the set's generator (:attr:`Source.generator`)."""
        return {"classes": self.classes, "groups": self.groups, "test_groups": self.test_groups,
                "clips_per_group": self.clips_per_group, "frames": self.frames, "seed": self.seed}


@section
class PhotosParams(DemoParams):
    """The photo set (``data.source: photos``): videos rendered from real photographs under camera
    and object motion (:mod:`pyext.data.photos`), laid out like UCF101; the keys of the demo's.

    Attributes:
        classes: motion kinds, one class each (at most ``PHOTOS_MAX_CLASSES``).
        version: the motions' ranges (:data:`pyext.data.photos.MOTIONS`): 1 as the set was first
            made, 2 with calmer cameras and smaller objects, as in real footage.
    """

    classes: _int(1, PHOTOS_MAX_CLASSES)
    version: _int(1, PHOTOS_VERSIONS)

    def generator_arguments(self, clip: ClipParams) -> dict:
        return {**super().generator_arguments(clip), "version": self.version}


@section
class StochasticParams(DemoParams):
    """The uncertain-futures set (``data.source: stochastic``, :mod:`pyext.data.stochastic`): the
    demo's keys, and how its futures branch. Its test videos are one test clip long and switch at the
    clip's first predicted frame; ``frames`` is the training videos' length.

    Attributes:
        classes: object shapes, one class each (at most ``STOCHASTIC_MAX_CLASSES``).
        branches: K, the motions a switch chooses from (left, right, stop, back: the first K), 2..4.
        switch_probability: the chance of a switch at each frame, in (0, 1].
    """

    classes: _int(1, STOCHASTIC_MAX_CLASSES)
    branches: _int(2, STOCHASTIC_MAX_BRANCHES)
    switch_probability: _float(0)

    def generator_arguments(self, clip: ClipParams) -> dict:
        return {**super().generator_arguments(clip), "branches": self.branches,
                "switch_probability": self.switch_probability, "switch_at": clip.input_frames,
                "test_frames": clip.test_frames}


def rules(p) -> Iterator[Rule]:
    """The generated sets' sizes against the clip geometry; a generated set's one split."""
    clip, data = p.clip, p.data
    for name in GENERATED_SOURCES:
        generated = getattr(p, name)
        yield Rule(f"{name}.test_groups", generated.test_groups < generated.groups,
                   f"< {name}.groups ({generated.groups}), so that training keeps at least one group",
                   generated.test_groups)
        # test_frames >= train_frames since test_steps >= 1: this also covers the training clips.
        yield Rule(f"{name}.frames", generated.frames >= clip.test_frames,
                   f">= clip.input_frames + clip.test_steps * clip.output_frames ({clip.test_frames})",
                   generated.frames)
    yield Rule("stochastic.switch_probability", 0 < p.stochastic.switch_probability <= 1, "a number in (0, 1]",
               p.stochastic.switch_probability)
    yield Rule("data.split", data.source not in GENERATED_SOURCES or data.split == 1,
               f"1 with data.source: {data.source} (a generated set has split 1 only)", data.split)
    test = data.test
    if test.source != SAME:
        yield from _other_set_rules("data.test", test, data, "same")
    else:
        yield Rule("data.test.root", not test.root, "'' with data.test.source: same (data.root holds the test videos)",
                   test.root)
    yield from _translate_rules(p)


def _other_set_rules(key: str, other, data, same: str, why: str = "") -> Iterator[Rule]:
    """The rules of a set named beside ``data.source`` (``key``: ``data.test`` or ``data.translate``, its
    section ``other``): a generated set's one split, another set than data.source's, a root for a user's
    source only. ``same``: how the key's ``same`` reads in the message; ``why``: what the message ends with."""
    yield Rule(f"{key}.split", other.source not in GENERATED_SOURCES or other.split == 1,
               f"1 with {key}.source: {other.source} (a generated set has split 1 only)", other.split)
    # One source twice is one set (a generated set is one set; a user's source, one per root): a test set
    # that is the training set, or a translation to itself.
    yield Rule(f"{key}.source", other.source != data.source or (other.source not in GENERATED_SOURCES and other.root
                                                                and Path(other.root) != data.root),
               f"{same}, a source other than data.source ({data.source}), or {data.source} at another root{why}",
               other.source)
    yield Rule(f"{key}.root", bool(other.root) != (other.source in GENERATED_SOURCES),
               f"'' with {key}.source: {other.source} (a generated set)" if other.source in GENERATED_SOURCES
               else f"the folder of {key}.source: {other.source}'s videos", other.root)


def _translate_rules(p) -> Iterator[Rule]:
    """Domain B: another set than domain A's, or its classes apart, its root as a test source's; each
    domain's test videos its own."""
    data = p.data
    b = data.translate
    if b.source == NONE:
        yield Rule("data.translate.root", not b.root, "'' with data.translate.source: none (no domain B)", b.root)
        yield Rule("data.translate.classes", not b.classes, "[] with data.translate.source: none (no domain B)",
                   list(b.classes))
        return
    yield Rule("data.translate.source", data.test.source == SAME,
               f"none with data.test.source: {data.test.source} (each domain's test videos are its own source's)",
               b.source)
    yield Rule("data.translate.classes", not b.classes or (len(b.classes) == 2 and b.classes[0] != b.classes[1]),
               "[] or a list of two distinct class names [A's, B's]", list(b.classes))
    if b.source == SAME:
        yield Rule("data.translate.classes", len(b.classes) == 2,
                   "two classes [A's, B's] with data.translate.source: same (they split data.source's videos into the "
                   "two domains)", list(b.classes))
        yield Rule("data.translate.root", not b.root, "'' with data.translate.source: same (data.root holds its videos)",
                   b.root)
    else:
        # One set's classes apart are data.translate.source: same.
        yield from _other_set_rules("data.translate", b, data, "same (with data.translate.classes)",
                                    " (domain B is another set of videos than domain A's)")
    # A generated set's classes are known here (its section's first ones); a user's, once prepare reads them.
    for key, name, source in zip(DOMAIN_KEYS, b.classes,
                                 (data.source, data.source if b.source == SAME else b.source)):
        if source in GENERATED_SOURCES and len(b.classes) == 2:
            known = SOURCES[source].classes[:getattr(p, source).classes]
            yield Rule("data.translate.classes", name in known,
                       f"names of classes of each domain's set ({name!r} is none of {key}: {source}'s "
                       f"{', '.join(known)})", list(b.classes))
