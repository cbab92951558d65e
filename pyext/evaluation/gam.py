"""The Generative Adversarial Metric (GAM; Im, Kim, Jiang & Memisevic 2016, "Generating images with
recurrent adversarial networks", arXiv 1602.05110, section 5): two trained GANs M1 = (G1, D1) and
M2 = (G2, D2) "battle" by swapping discriminators (``beyondmse gam RUN_A RUN_B``).

With ``err(D; X)`` a discriminator's classification error on images X (a real image it calls
generated, a generated one it calls real), section 5's two ratios are

    r_test    = err(D1; x_test) / err(D2; x_test)          (how alike the D's generalise)
    r_samples = err(D1; G2's samples) / err(D2; G1's samples)   (how often each is fooled by the other's G)

and M1 wins where r_samples < 1, M2 where r_samples > 1, a tie at 1; the verdict is valid only where
r_test is about 1. Here each ratio comes with a percentile bootstrap interval (the test images and each
set of samples resampled), and no verdict is given where r_test's interval is not inside
:data:`TEST_BAND` or a ratio has a zero error under it.

D as a classifier: a discriminator answers "real" where its output lies above its objective's
threshold (:func:`decision_threshold`, the one its training's ``d_accuracy`` counts at): 0 for BCE's
logit; 0.5 for LSGAN's 0-1 coding; f-GAN's ``v`` where ``g_f(v) = f'(1)``; 0 for the hinge loss, whose
minimiser has the sign of ``2 P(real | x) - 1`` (a calibrated decision, though no probability).
Section 5 assumes D is such a classifier; a Wasserstein critic's score and an energy have no
threshold, and their runs are refused.

A run is a folder where the pipeline trained a generator from noise: its ``params.yaml``, the train
stage's generator and checkpoint (:attr:`pyext.files.Layout.train`; the checkpoint's step state holds D). The trained
step is rebuilt from the params and its checkpoint (:func:`pyext.training.make_step`, ``load_state``),
after checking that the checkpoint is the finished run of those params and of that generator. How a
family's step judges whole images is :data:`JUDGES`' entry (DCGAN's, VAE-GAN's, BigGAN's and GRAN's one discriminator);
a family with no entry is refused in one line (:data:`NO_CLASSIFIER` says why, LAPGAN's pyramid).
The same run twice is allowed: both ratios are then 1, a tie (a check of the machinery).

Images: the real ones are the evaluation's (:func:`pyext.evaluation.generation.real_images`: one frame
of each moving test patch); each generator draws as many (or ``samples``) from latents of ``(seed,
GAM_KEY)``, as uint8 images (:func:`~.samples.generated`), so that both D's judge samples stored as the
real images are. A class-conditioned generator draws sample j of real image ``j mod N``'s class, and a
D with a class input judges every image under that class.

D judges as it was trained (:func:`judging`): its batch norms normalise each batch of one kind
(:data:`~.samples.BATCH` images, all real or all one generator's samples) by that batch's statistics,
and its running statistics are neither used nor changed. In eval mode a D that normalised real and
generated batches apart (DCGAN's guideline, :class:`~pyext.models.blocks.SplitBatchNorm2d`) would
normalise by running statistics of neither kind: the demo's DCGAN (``bce``) called 19% of the real
test frames real that way, 98.5% by batch statistics. An image's answer thus depends on the batch it
is judged in (as in training); the bootstrap resamples the answers.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import load_params
from ..data.dataset import check_classes, to_model
from ..files import Layout, write_json
from ..models import NoiseGenerator, draw_latents, load_generator, noise_families
from ..prediction import check_writable
from .generation import real_images
from .samples import BATCH, generated

GAM_KEY = 0x67616D00  # "gam": the samples' latents, (seed, this), apart from every other draw
TEST_BAND = (0.9, 1.1)  # r_test's interval must lie inside for a verdict: the D's generalise alike
CONFIDENCE, RESAMPLES = 0.95, 1000  # the bootstrap's defaults

__all__ = ["CONFIDENCE", "GAM_KEY", "JUDGES", "NO_CLASSIFIER", "RESAMPLES", "TEST_BAND", "Classifier", "Contestant",
           "battle", "compare_runs", "decision_threshold", "judging", "load_contestant", "ratio", "table", "verdict"]


# ------------------------------------------------------------------------------------ the ratios


@dataclass(frozen=True)
class Classifier:
    """A discriminator read as a classifier: ``score(images (B, 3, S, S) in [-1, 1], labels (B,) or
    None) -> (B,)`` D's real-vs-generated outputs; "real" strictly above ``threshold``."""

    score: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]
    threshold: float

    @torch.no_grad()
    def says_real(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> np.ndarray:
        """bool ``(N,)``: whether D calls each of ``images`` ``(N, 3, S, S)`` (of classes ``labels``
        ``(N,)``) real, :data:`~.samples.BATCH` at a time. At the threshold exactly an image is neither
        real nor generated to D: wrong either way, as the training's ``d_accuracy`` counts it."""
        parts = [self.score(images[i:i + BATCH], None if labels is None else labels[i:i + BATCH]) > self.threshold
                 for i in range(0, len(images), BATCH)]
        return torch.cat(parts).cpu().numpy() if parts else np.zeros(0, bool)


def ratio(first: np.ndarray, second: np.ndarray, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
          seed: int = 0, paired: bool = False) -> dict:
    """``mean(first) / mean(second)`` of error indicators (bool, ``(N1,)`` and ``(N2,)``) with a
    percentile bootstrap interval at ``confidence`` over ``resamples`` resamples drawn from ``seed``.

    Resampling a 0/1 vector's n values with replacement gives Binomial(n, mean) errors: the draws are
    those counts, exactly. ``paired`` (the same images judged by two D's, ``N1 = N2``): the images are
    resampled together, i.e. a multinomial draw of the four kinds of image (both D's wrong, the first
    alone, the second alone, neither). A resample whose denominator is 0 has the ratio +inf (its
    numerator > 0) or none (0 / 0, left out and counted).

    Returns:
        ``{"value", "interval": [lo, hi], "errors": [k1, k2], "images": [N1, N2], "undefined_resamples"}``;
        ``value`` and ``interval`` None with ``"undefined"`` (why) where ``mean(second)`` is 0 or a set
        is empty; an interval's end may be ``"inf"``.

    Example:
        >>> r = ratio(np.array([1, 1, 0, 0], bool), np.array([1, 0, 0, 0], bool), resamples=200)
        >>> r["value"], r["errors"]
        (2.0, [2, 1])
    """
    first, second = np.asarray(first, bool), np.asarray(second, bool)
    if paired and first.shape != second.shape:
        raise ValueError(f"paired error indicators must be of one shape, got {first.shape} and {second.shape}")
    n1, n2, k1, k2 = len(first), len(second), int(first.sum()), int(second.sum())
    out: dict = {"errors": [k1, k2], "images": [n1, n2]}
    if not (n1 and n2 and k2):
        why = "no images" if not (n1 and n2) else f"a zero error in the denominator (0 of {n2})"
        return out | {"value": None, "interval": None, "undefined": why, "undefined_resamples": None}
    rng = np.random.default_rng(seed)
    if paired:  # counts of (both, first alone, second alone, neither) among n resampled images
        kinds = np.array([(first & second).sum(), (first & ~second).sum(), (~first & second).sum(),
                          (~first & ~second).sum()])
        draws = rng.multinomial(n1, kinds / n1, size=resamples)
        top, bottom = draws[:, 0] + draws[:, 1], draws[:, 0] + draws[:, 2]
    else:
        top, bottom = rng.binomial(n1, k1 / n1, resamples), rng.binomial(n2, k2 / n2, resamples)
    defined = (top > 0) | (bottom > 0)
    with np.errstate(divide="ignore"):
        values = (top[defined] / n1) / (bottom[defined] / n2)
    alpha = 1 - confidence
    # inverted_cdf: every end is a resample's own value (an infinite one too, which interpolation would not keep).
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")
    return out | {"value": (k1 / n1) / (k2 / n2), "interval": [_number(lo), _number(hi)],
                  "undefined_resamples": int((~defined).sum())}


def _number(x: float) -> float | str:
    """A float for JSON: infinity as the string ``"inf"`` (strict JSON has no word for it)."""
    return float(x) if math.isfinite(x) else "inf"


def _interval(ends: list) -> str:
    """``[lo, hi]`` of :func:`ratio`'s interval, 3 decimals (``inf`` as is)."""
    return "[" + ", ".join(end if end == "inf" else f"{end:.3f}" for end in ends) + "]"


def verdict(r_test: dict, r_samples: dict, band: tuple[float, float] = TEST_BAND) -> tuple[str | None, str]:
    """Section 5's verdict from :func:`ratio`'s ``r_test`` and ``r_samples``: ``("A", line)`` where
    r_samples < 1 (M1's D is fooled less by M2's samples than M2's D by M1's), ``("B", line)`` where > 1,
    ``("tie", line)`` at 1; ``(None, why)`` where no verdict is valid: r_test or r_samples undefined, or
    r_test's interval not inside ``band``. The line notes where r_samples' interval holds 1."""
    if r_test["value"] is None:
        return None, f"no verdict: r_test is undefined ({r_test['undefined']}), so the D's cannot be compared"
    lo, hi = r_test["interval"]
    if not (band[0] <= lo and hi != "inf" and hi <= band[1]):
        return None, (f"no verdict: r_test's interval {_interval([lo, hi])} is not inside [{band[0]:g}, {band[1]:g}]: "
                      f"the discriminators do not generalise alike on the test images (Im et al. 2016, section 5)")
    if r_samples["value"] is None:
        return None, f"no verdict: r_samples is undefined ({r_samples['undefined']})"
    value, (lo, hi) = r_samples["value"], r_samples["interval"]
    winner = "A" if value < 1 else "B" if value > 1 else "tie"
    line = {"A": "A wins (r_samples < 1)", "B": "B wins (r_samples > 1)", "tie": "a tie (r_samples = 1)"}[winner]
    if winner != "tie" and lo <= 1 and (hi == "inf" or hi >= 1):
        line += "; its interval holds 1: not a clear win"
    return winner, line


def battle(d1: Classifier, d2: Classifier, test: torch.Tensor, samples1: torch.Tensor, samples2: torch.Tensor,
           test_labels: torch.Tensor | None = None, labels1: torch.Tensor | None = None,
           labels2: torch.Tensor | None = None, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
           seed: int = 0) -> dict:
    """Section 5's battle of M1 = (G1, D1) and M2 = (G2, D2) on real ``test`` images ``(N, 3, S, S)``
    and the generators' ``samples1`` ``(M1, 3, S, S)`` and ``samples2`` ``(M2, 3, S, S)`` (in [-1, 1];
    the ``labels`` ``(N,)``, ``(M1,)``, ``(M2,)``: the classes a D with a class input judges them as).

    Returns:
        ``{"errors": {...}, "r_test": ratio, "r_samples": ratio, "verdict": "A" | "B" | "tie" | None,
        "verdict_line": str, "confidence", "resamples", "test_band"}``: the four error rates
        (``test_A``: err(D1; x_test), ``test_B``; ``A_on_B_samples``: err(D1; G2's samples),
        ``B_on_A_samples``), each ratio by :func:`ratio` (r_test paired: the same images) and
        :func:`verdict`.
    """
    wrong = {"test_A": ~d1.says_real(test, test_labels), "test_B": ~d2.says_real(test, test_labels),
             "A_on_B_samples": d1.says_real(samples2, labels2), "B_on_A_samples": d2.says_real(samples1, labels1)}
    r_test = ratio(wrong["test_A"], wrong["test_B"], confidence, resamples, seed, paired=True)
    r_samples = ratio(wrong["A_on_B_samples"], wrong["B_on_A_samples"], confidence, resamples, seed + 1)
    winner, line = verdict(r_test, r_samples)
    return {"errors": {name: round(float(w.mean()), 6) if len(w) else None for name, w in wrong.items()},
            "r_test": r_test, "r_samples": r_samples, "verdict": winner, "verdict_line": line,
            "confidence": confidence, "resamples": resamples, "test_band": list(TEST_BAND)}


# ------------------------------------------------------------------------------- the trained runs


def decision_threshold(objective) -> float | None:
    """The output of the discriminator that ``objective`` (an
    :class:`~pyext.losses.adversarial.AdversarialObjective`) trains above which D answers "real": the
    threshold its training's ``d_accuracy`` counts at. None where D's output is no such decision: an
    energy (no :class:`~pyext.losses.adversarial.LogitObjective`), a Wasserstein critic's score (a
    :class:`~pyext.losses.adversarial.base.CriticLoss`: how real relative to other images, not which)."""
    from ..losses.adversarial import LogitObjective
    from ..losses.adversarial.base import CriticLoss

    if not isinstance(objective, LogitObjective) or issubclass(objective.result, CriticLoss):
        return None
    return objective.threshold



def judging(d: torch.nn.Module) -> torch.nn.Module:
    """``d`` set to judge as it was trained: eval mode (no dropout, no spectral-norm power
    iteration), but every batch norm normalising by the statistics of the batch it is given, whole
    (no groups), its running statistics left as they are. Returns ``d``, changed in place."""
    d.eval()
    for module in d.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.train()
            module.track_running_stats = False  # training mode without a running statistic to update
            if hasattr(module, "group"):
                module.group = None
    return d


def _one_discriminator(step, images: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """One D judging whole images as the objectives call it (through the conditioning's judge: the
    class input fed, ACGAN's class logits split off): its outputs ``(B,)``."""
    return step.condition.judge(step.D, labels)([images], None)[0][:, 0]


# How each family's trained step (pyext.training.steps) judges whole images (B, 3, S, S) of classes
# labels (B,) or None: D's outputs (B,). A family of a generator from noise not here has no D the GAM reads.
JUDGES: dict[str, Callable[..., torch.Tensor]] = {"dcgan": _one_discriminator, "vaegan": _one_discriminator,
                                                  "biggan": _one_discriminator, "gran": _one_discriminator,
                                                  "icgan": _one_discriminator}
# Why a family of a generator from noise has no entry of JUDGES.
NO_CLASSIFIER = {"lapgan": "its discriminators are a pyramid, each judging one level's residual given the coarser "
                           "image: none classifies whole images, as section 5's D does"}


@dataclass
class Contestant:
    """One trained run in the battle: its folder, generator, discriminator as a classifier, objective."""

    folder: Path
    generator: NoiseGenerator
    classifier: Classifier
    objective: str


def _run_generator(folder: Path, path: Path) -> NoiseGenerator:
    if not folder.is_dir():
        layout = Layout().train
        raise FileNotFoundError(f"{folder}: no such run folder (a folder where a generator from noise was "
                                f"trained: params.yaml, {layout.generator}, {layout.checkpoint})")
    model = load_generator(path)
    if not isinstance(model, NoiseGenerator):
        raise ValueError(f"{path}: a {model.family} model, which samples no images from noise; the GAM battles "
                         f"generators from noise (model.family: {', '.join(noise_families())})")
    if model.family not in JUDGES:
        why = NO_CLASSIFIER.get(model.family, "its family gives the GAM no discriminator")
        raise ValueError(f"{path}: a {model.family} generator: the GAM needs one classifier D per model, and "
                         f"{model.family} has none ({why}; families with one: {', '.join(JUDGES)})")
    return model


def _checkpoint(path: Path, params, params_path: Path, generator: NoiseGenerator, generator_path: Path) -> dict:
    """The run's checkpoint at ``path``, checked to be the finished training of ``params`` that
    wrote ``generator`` (the same weights: a later run's checkpoint holds others)."""
    from ..training import CHECKPOINT_FORMAT, params_hash

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (the GAM reads the run's discriminator from its checkpoint)")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say which, not a pickle traceback
        raise ValueError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT or "discriminator" not in saved:
        raise ValueError(f"{path}: not a checkpoint of format {CHECKPOINT_FORMAT} holding a discriminator")
    if saved.get("params_hash") != params_hash(params):
        raise ValueError(f"{path}: trained with other params than {params_path} (the run's own params are needed)")
    if saved.get("step") != params.train.steps:
        raise ValueError(f"{path}: at step {saved.get('step')} of train.steps {params.train.steps} (an unfinished run)")
    mine, theirs = generator.state_dict(), saved.get("generator") or {}
    if mine.keys() != theirs.keys() or any(not torch.equal(v.cpu(), theirs[k]) for k, v in mine.items()):
        raise ValueError(f"{path}: holds another generator than {generator_path} (the checkpoint of another run?)")
    return saved


def load_contestant(folder: str | Path, device: torch.device = torch.device("cpu")) -> Contestant:
    """The trained run in ``folder`` (the module docstring) as a contestant: its generator and its
    discriminator restored from the checkpoint, in eval mode on ``device``.

    Raises:
        FileNotFoundError, ParamsError, ValueError: one line naming the file at fault: no such folder
            or file, not a generator from noise, a family or objective without a classifier D, a
            checkpoint of other params, unfinished, or of another generator.
    """
    from ..losses import make_objective
    from ..training import make_step

    folder = Path(folder)
    params_path, run = folder / "params.yaml", Layout(folder).train
    generator = _run_generator(folder, run.generator)
    params = load_params(params_path)
    if params.model.family != generator.family:
        raise ValueError(f"{params_path}: model.family {params.model.family}, but {run.generator} is a "
                         f"{generator.family} generator (the run's own params are needed)")
    kind = params.loss.adversarial.kind
    if decision_threshold(make_objective(params.loss.adversarial)) is None:
        raise ValueError(f"{params_path}: loss.adversarial.kind {kind} trains a D whose output (a critic's score, an "
                         f"energy) has no threshold between real and generated; the GAM counts a classifier's "
                         f"errors (Im et al. 2016, section 5)")
    saved = _checkpoint(run.checkpoint, params, params_path, generator, run.generator)
    with torch.random.fork_rng(devices=[]):  # building a step seeds torch's generator: the caller's is kept
        step = make_step(params, torch.device("cpu"), classes=generator.classes)
    step.load_state(saved)
    judging(step.D.to(device))
    judge = JUDGES[generator.family]
    classifier = Classifier(lambda images, labels: judge(step, images, labels).float(),
                            decision_threshold(step.objective))
    return Contestant(folder, generator.to(device).eval(), classifier, kind)


def _samples(contestant: Contestant, n: int, seed: int, labels: np.ndarray, test: Path,
             device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images of the contestant's generator from latents of ``(seed, GAM_KEY)``, through uint8
    as the real images are stored ``(n, 3, S, S)``, and their classes ``(n,)`` (``labels``, the real
    images', in turn: the classes a conditioned generator is asked for and a class input judges)."""
    g = contestant.generator
    classes = torch.as_tensor(labels[np.arange(n) % len(labels)], device=device)
    if g.classes:
        check_classes(labels, g.classes, test, contestant.folder)
    z = draw_latents((seed, GAM_KEY), g.latent, n, device=device)
    return to_model(generated(g, z, classes if g.classes else None)).to(device), classes


def compare_runs(run_a: str | Path, run_b: str | Path, out: str | Path, test: str | Path, params_path: str | Path,
                 samples: int | None = None, seed: int = 0, confidence: float = CONFIDENCE,
                 resamples: int = RESAMPLES, device: torch.device = torch.device("cpu")) -> dict:
    """The GAM of the runs in folders ``run_a`` (M1) and ``run_b`` (M2) (:func:`battle`) on the real
    images of the test clips ``test`` read with the params ``params_path`` (clip.patch,
    evaluate.patches, filter.min_motion, extract.seed), ``samples`` images of each generator (None: as
    many as the real ones) drawn from ``seed``; the resamples drawn from ``seed`` too. Writes the
    result as JSON to ``out`` and returns it.

    Raises:
        ValueError, OSError, ParamsError: bad arguments or files, in one line naming them.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"--confidence must be in (0, 1), got {confidence}")
    for option, value, least in (("--resamples", resamples, 1), ("--samples", samples, 1), ("--seed", seed, 0)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
            raise ValueError(f"{option} must be an int >= {least}, got {value!r}")
    check_writable(out)
    a, b = load_contestant(run_a, device), load_contestant(run_b, device)
    params = load_params(params_path)
    for c in (a, b):
        if c.generator.size != params.clip.patch:
            raise ValueError(f"{c.folder}: its generator makes {c.generator.size}x{c.generator.size} images, the test "
                             f"patches are {params.clip.patch}x{params.clip.patch} (clip.patch of {params_path})")
    real, labels = real_images(Path(test), params)
    n = len(real) if samples is None else samples
    (images_a, labels_a), (images_b, labels_b) = (_samples(c, n, seed, labels, Path(test), device) for c in (a, b))
    result = battle(a.classifier, b.classifier, to_model(real).to(device), images_a, images_b,
                    torch.as_tensor(labels, device=device), labels_a, labels_b, confidence, resamples, seed)
    result = {"measure": "GAM (Im et al. 2016, arXiv 1602.05110, section 5)",
              "runs": {name: {"folder": str(c.folder), "family": c.generator.family, "objective": c.objective,
                              "threshold": c.classifier.threshold} for name, c in (("A", a), ("B", b))},
              "test": {"file": str(test), "images": len(real)}, "samples": n, "seed": seed, **result}
    write_json(out, result)
    return result


def table(result: dict) -> str:
    """:func:`compare_runs`' result as a few lines: each D's errors, both ratios with their intervals
    and the verdict."""
    errors, runs = result["errors"], result["runs"]

    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    def shown(r: dict) -> str:
        if r["value"] is None:
            return f"undefined ({r['undefined']})"
        skipped = f", {r['undefined_resamples']} resamples 0/0 left out" if r["undefined_resamples"] else ""
        return f"{r['value']:.3f}  {_interval(r['interval'])}{skipped}"

    level = f"{result['confidence']:.0%} interval, {result['resamples']} bootstrap resamples"
    return "\n".join([
        f"{'':28}{'D of A':>10}{'D of B':>10}",
        f"{'objective':28}{runs['A']['objective']:>10}{runs['B']['objective']:>10}",
        f"{'error on test images':28}{rate(errors['test_A']):>10}{rate(errors['test_B']):>10}",
        f"{'error on the other samples':28}{rate(errors['A_on_B_samples']):>10}{rate(errors['B_on_A_samples']):>10}",
        f"r_test    = {shown(result['r_test'])}  ({level})",
        f"r_samples = {shown(result['r_samples'])}",
        f"verdict: {result['verdict_line']}"])
