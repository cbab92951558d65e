"""Decoding the videos into clips and patches, and filtering them: ``extract``, ``filter``."""
from __future__ import annotations

from collections.abc import Iterator

from .rules import Rule, _Cap, _Count, _float, _IntPair, _Seed, section

__all__ = ["ExtractParams", "FilterParams", "rules"]


@section
class ExtractParams:
    """Decoding videos into training clips, patch crops and full-frame test clips.

    Attributes:
        workers: decoding processes.
        frame_size: working ``(height, width)`` in pixels; larger frames are downscaled to fit
            (aspect kept). Each side is at least ``clip.patch``.
        clip_stride: frames between the starts of consecutive training clips of a video.
        crops_per_clip: random patch crops per training clip.
        max_clips_per_video: cap on the training clips per video; 0: every clip.
        test_clips_per_video: full-frame test clips per test video.
        seed: random seed of the crops and clip choices.
    """

    workers: _Count
    frame_size: _IntPair
    clip_stride: _Count
    crops_per_clip: _Count
    max_clips_per_video: _Cap
    test_clips_per_video: _Count
    seed: _Seed


@section
class FilterParams:
    """Motion filtering of the patches and the validation hold-out.

    Attributes:
        min_motion: keep patches whose motion score (RMS frame difference on the 0..255 scale) is
            at least this...
        min_kept: ...or, where that keeps fewer patches than this, the ``min_kept`` most moving ones
            (:func:`pyext.data.filter.threshold`); 0: ``min_motion`` alone.
        val_fraction: fraction of whole training videos held out as the validation set, in [0, 1).
        max_per_video: cap on the patches kept per video; 0: no cap.
        seed: random seed of the validation split and the per-video cap.
    """

    min_motion: _float(0)
    min_kept: _Cap
    val_fraction: _float(0, 1)
    max_per_video: _Cap
    seed: _Seed


def rules(p) -> Iterator[Rule]:
    """Frames large enough for the patches cut from them."""
    yield Rule("extract.frame_size", min(p.extract.frame_size) >= p.clip.patch,
               f"[height, width] each >= clip.patch ({p.clip.patch})", list(p.extract.frame_size))
