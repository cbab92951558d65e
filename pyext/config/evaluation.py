"""The evaluation on the full-frame test clips: ``evaluate``."""
from __future__ import annotations

from collections.abc import Iterator

from .rules import Rule, _Cap, _choice, _Count, _float, _int, _Network, _Thresholds, section

__all__ = ["MEASURES", "EvaluateParams", "rules"]

# The evaluation's measures (pyext.evaluation.predictor): this project's moving-region means; the
# authors' released script's whole-frame measure of masked frames (pyext.evaluation.metrics.authors_scores).
MEASURES = ("moving_mean", "authors")


@section
class EvaluateParams:
    """The evaluation on the full-frame test clips.

    Attributes:
        protocol: ``all`` (every test clip of ``data/test.h5``) or ``paper`` (the clips of every
            10th test video in list order: with UCF101, 4 inputs and 2 recursive steps on 240x320
            frames, the paper's Table 2 protocol).
        max_clips: at most this many clips; 0: no cap.
        flow_threshold: a target pixel moves when the optical-flow magnitude from the frame before
            exceeds this many pixels.
        pictures: test clips drawn as PNG grids and GIFs (GAIA: samples and interpolated pairs).
        patches: GAIA's evaluation samples: moving patches cut from the test clips
            (:mod:`pyext.evaluation.gaia`); a generator from noise is measured against one frame of
            each, as many generated images (:mod:`pyext.evaluation.generation`).
        features: the feature extractor of FID and KID (:mod:`pyext.evaluation.fid`): ``builtin``
            (the project's own, :mod:`pyext.evaluation.extractor`), a TorchScript file (patches
            ``(N, 3, P, P)`` RGB float32 in [0, 1] -> ``(N, d)``) relative to the params file, or ''
            for neither.
        classifier: the classifier of the Inception Score and the class accuracy of the squares
            twice ``clip.patch`` around the predicted and true moving patches: ``builtin`` (the
            project's own object-shape classifier: only on sources whose classes show in one frame,
            ``stochastic``, and not on GAIA's patches alone; elsewhere refused in the metrics), a
            TorchScript file (squares ``(N, 3, S, S)`` RGB float32 in [0, 1] -> class logits
            ``(N, C)``), or '' for none.
        fid_patches: moving patches (``clip.patch``-square crops of the predicted and the true
            frames where the truth moves by ``filter.min_motion``) FID and KID compare per step: an
            even share a test clip, drawn at random (seeded) on a 4-pixel grid; at most this many,
            the number recorded (:func:`pyext.evaluation.fid.moving_crops`). A translator's: the
            moving test patches of each domain FID, KID and the domain classifier compare.
        kid_subsets: random subsets KID averages over.
        kid_subset_size: frames per KID subset (at most the frames there are).
        measure: the measure the stage reports and plots (``eval/metrics.json`` holds both):
            ``moving_mean`` (this project's: means over the moving pixels) or ``authors`` (the
            authors' released script's, which Table 2's figures come from:
            :func:`pyext.evaluation.metrics.authors_scores`).
        samples: predictions per test clip of a generator with noise (``model.multiscale.noise``),
            each from its own latent; the first is the one the paper's measures score, all N give
            best-of-N and mean-of-N PSNR, their diversity and, where the clip's futures are recorded,
            the share of futures some sample is nearest (coverage). Unused without noise.
        probe_steps: updates of a fresh probe discriminator trained against the frozen generator
            on the training patches and scored on the validation patches (``multiscale``;
            :mod:`pyext.evaluation.probe`); 0: none.
        truncation: the thresholds of a generator from noise's truncation curve (BigGAN's trick,
            :func:`pyext.models.base.truncated_normal`): its images measured again from latents
            truncated at each (:mod:`pyext.evaluation.generation`); []: none.
    """

    protocol: _choice("all", "paper")
    max_clips: _Cap
    flow_threshold: _float(0)
    pictures: _int(0)
    patches: _int(2)
    features: _Network
    classifier: _Network
    fid_patches: _int(2)
    kid_subsets: _Count
    kid_subset_size: _int(2)
    measure: _choice(*MEASURES)
    samples: _Count
    probe_steps: _int(0)
    truncation: _Thresholds


def rules(p) -> Iterator[Rule]:
    """The paper's protocol needs the paper's clip geometry."""
    clip = p.clip
    yield Rule("evaluate.protocol", p.evaluate.protocol != "paper" or (
        clip.input_frames == 4 and clip.output_frames == 1 and clip.test_steps >= 2),
        "all unless clip.input_frames is 4, clip.output_frames 1 and clip.test_steps >= 2 (the paper's protocol)",
        p.evaluate.protocol)
