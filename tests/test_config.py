"""pyext.config: the shipped params.yaml loads and has the keys of the tests' frozen copy; every
kind of invalid file, key, type, range or combination is a one-line ParamsError naming the file,
the dotted key and what was expected."""
import copy
import json
import pickle
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cases import TEST_PARAMS
from pyext.config import (
    DEMO_MAX_CLASSES,
    PHOTOS_MAX_CLASSES,
    ClipParams,
    DataParams,
    DemoParams,
    ExtractParams,
    FilterParams,
    Params,
    ParamsError,
    PhotosParams,
    DataTestParams,
    DataTranslateParams,
    load_params,
    parse_params,
)

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "params.yaml"
FROZEN = TEST_PARAMS  # the tests' expectations refer to this copy
SOURCE = "params.yaml"  # the name parse_params puts in messages unless told another


def _raw() -> dict:
    return yaml.safe_load(FROZEN.read_text())


def _set(dotted: str, value):
    def mutate(raw):
        *sections, key = dotted.split(".")
        mapping = raw
        for name in sections:
            mapping = mapping[name]
        mapping[key] = value
    return mutate


def _delete(dotted: str):
    def mutate(raw):
        section, _, key = dotted.partition(".")
        if key:
            del raw[section][key]
        else:
            del raw[section]
    return mutate


def _both(*mutations):
    def mutate(raw):
        for m in mutations:
            m(raw)
    return mutate


def _icgan(*mutations):
    """IcGAN's run (its cGAN by concat, on the stochastic set), then ``mutations``."""
    return _both(_set("model.family", "icgan"), _set("model.condition", "concat"), _set("data.source", "stochastic"),
                 *mutations)


def _inversion(*mutations):
    """The inversion's run, then ``mutations``."""
    return _both(_set("model.family", "inversion"), *mutations)


def _translator(family: str, *mutations):
    """A translator's run (domain B: the photo set), then ``mutations``."""
    return _both(_set("model.family", family), _set("data.translate.source", "photos"), *mutations)


def _parse_error(raw, source=SOURCE) -> str:
    with pytest.raises(ParamsError) as info:
        parse_params(raw, source)
    message = str(info.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------------------------------ shipped file


def test_shipped_params_load_with_the_keys_of_the_tests_copy():
    assert isinstance(load_params(SHIPPED), Params)
    shipped, frozen = (yaml.safe_load(path.read_text()) for path in (SHIPPED, FROZEN))
    assert {s: set(keys) for s, keys in shipped.items()} == {s: set(keys) for s, keys in frozen.items()}


def test_frozen_params_load():
    p = load_params(FROZEN)
    assert isinstance(p, Params)
    assert p.clip == ClipParams(input_frames=4, output_frames=1, patch=32, test_steps=2)
    assert p.data == DataParams(source="demo", root=REPO / "tests" / "data" / "demo", split=1,
                                test=DataTestParams(source="same", root="", split=1),
                                translate=DataTranslateParams(source="none", root="", split=1, classes=()))
    assert p.demo == DemoParams(classes=6, groups=7, test_groups=2, clips_per_group=2, frames=40, seed=0)
    assert p.photos == PhotosParams(classes=4, groups=4, test_groups=1, clips_per_group=1, frames=40, seed=0,
                                    version=1)
    assert p.extract == ExtractParams(workers=2, frame_size=(240, 320), clip_stride=4, crops_per_clip=4,
                                      max_clips_per_video=0, test_clips_per_video=1, seed=0)
    assert p.filter == FilterParams(min_motion=8.0, min_kept=0, val_fraction=0.1, max_per_video=0, seed=0)
    assert (p.model.multiscale.skip, p.train.augment, p.train.colour_jitter, p.train.keep) == ("none", (), 0.0, "last")
    assert type(p.filter.min_motion) is float and type(p.extract.frame_size) is tuple


def test_default_path_is_the_working_directory(monkeypatch):
    monkeypatch.chdir(REPO)
    assert load_params() == load_params(SHIPPED)


def test_params_are_frozen():
    p = load_params(FROZEN)
    with pytest.raises(AttributeError):
        p.clip.patch = 64


def test_clip_frame_counts():
    clip = load_params(FROZEN).clip
    assert (clip.train_frames, clip.test_frames) == (5, 6)
    paper = ClipParams(input_frames=8, output_frames=8, patch=32, test_steps=2)
    assert (paper.train_frames, paper.test_frames) == (16, 24)


def test_section_gives_plain_validated_values():
    p = load_params(FROZEN)
    raw = _raw()
    assert p.section("filter") == raw["filter"]
    assert p.section("extract") == raw["extract"]  # frame_size back as a list
    assert p.section("data") == {"source": "demo", "root": str(REPO / "tests" / "data" / "demo"), "split": 1,
                                 "test": {"source": "same", "root": "", "split": 1},
                                 "translate": {"source": "none", "root": "", "split": 1, "classes": []}}
    assert p.section("train")["augment"] == []  # a tuple in the params, a list in YAML and JSON
    everything = {name: p.section(name) for name in raw}
    assert json.loads(json.dumps(everything)) == everything
    p.section("clip")["patch"] = 64  # a copy: the params are untouched
    assert p.clip.patch == 32
    with pytest.raises(ValueError, match="unknown params section 'optimizer'"):
        p.section("optimizer")


def test_float_keys_accept_ints():
    raw = _raw()
    raw["filter"].update(min_motion=8, val_fraction=0)
    f = parse_params(raw).filter
    assert (f.min_motion, f.val_fraction) == (8.0, 0.0)
    assert type(f.min_motion) is float and type(f.val_fraction) is float


@pytest.mark.parametrize("mutate", [
    _set("extract.max_clips_per_video", 0), _set("filter.max_per_video", 0), _set("demo.seed", 0),
    _set("filter.min_motion", 0.0), _set("demo.classes", DEMO_MAX_CLASSES), _set("demo.test_groups", 6),
    _set("demo.frames", 6), _set("extract.frame_size", [32, 32]), _both(_set("clip.patch", 4), _set("model.multiscale.scales", 3), _set("loss.adv", 0.0)),
    _set("data.root", "/no/such/folder"),  # demo ignores the root
    _both(_set("data.source", "ucf101"), _set("data.split", 3), _set("data.root", str(REPO))),
    _both(_set("data.source", "photos"), _set("data.root", "/no/such/folder")), _set("photos.classes", 5),
    _set("train.augment", ["flip", "rotate", "reverse", "colour"]), _set("train.augment", []),
    _set("filter.min_kept", 0), _set("train.colour_jitter", 0.99),
    _set("data.test.source", "photos"), _both(_set("data.test.source", "ucf101"), _set("data.test.root", str(REPO)),
                                              _set("data.test.split", 3)),
    _both(_set("data.source", "folder"), _set("data.root", str(REPO / "tests")), _set("data.test.source", "folder"),
          _set("data.test.root", str(REPO))),
    _both(_set("model.family", "cyclegan"), _set("data.translate.source", "photos")),
    _both(_set("model.family", "dualgan"), _set("data.source", "stochastic"), _set("data.translate.source", "same"),
          _set("data.translate.classes", ["Discs", "Squares"])),
    _both(_set("model.family", "discogan"), _set("data.source", "folder"), _set("data.root", str(REPO / "tests")),
          _set("data.translate.source", "folder"), _set("data.translate.root", str(REPO))),
], ids=["max-clips-0", "max-per-video-0", "seed-0", "min-motion-0", "max-classes", "test-groups-1-less",
        "frames-exact", "frame-size-patch", "patch-4", "demo-ignores-root", "ucf101-split-3", "photos-ignore-root",
        "photos-max-classes", "augment-all", "augment-none", "min-kept-0", "colour-jitter-high", "test-photos",
        "test-ucf101-split-3", "test-same-source-other-root", "translate-photos", "translate-classes-of-one-set",
        "translate-folder-other-root"])
def test_boundary_values_are_accepted(mutate):
    raw = _raw()
    mutate(raw)
    parse_params(raw)


# ----------------------------------------------------------------------------------------- errors

# (id, mutation of the shipped file, dotted key at fault, the message after "params.yaml: <key>: ")
ERRORS = [
    # sections and keys
    ("missing-section", _delete("clip"), "clip", "missing section"),
    ("missing-key", _delete("filter.seed"), "filter.seed", "missing key"),
    ("unknown-key", _set("filter.min_motoin", 8.0), "filter.min_motoin",
     "unknown key (known: max_per_video, min_kept, min_motion, seed, val_fraction)"),
    ("section-not-mapping", lambda raw: raw.update(clip=[4, 1]), "clip", "expected a mapping of keys, got [4, 1]"),
    ("section-empty", lambda raw: raw.update(demo=None), "demo",
     "expected a mapping of keys, got nothing (an empty value)"),
    # int types
    ("int-string", _set("extract.workers", "two"), "extract.workers", "expected an int >= 1, got 'two'"),
    ("int-bool", _set("extract.workers", True), "extract.workers", "expected an int >= 1, got True"),
    ("int-float", _set("clip.patch", 32.0), "clip.patch", "expected an int >= 4, got 32.0"),
    ("int-none", _set("clip.test_steps", None), "clip.test_steps",
     "expected an int >= 1, got nothing (an empty value)"),
    ("int-numeric-string", _set("demo.frames", "40"), "demo.frames", "expected an int >= 1, got '40'"),
    # int ranges
    ("count-0", _set("clip.input_frames", 0), "clip.input_frames", "expected an int >= 1, got 0"),
    ("output-frames-0", _set("clip.output_frames", 0), "clip.output_frames", "expected an int >= 1, got 0"),
    ("patch-3", _set("clip.patch", 3), "clip.patch", "expected an int >= 4, got 3"),
    ("test-steps-0", _set("clip.test_steps", 0), "clip.test_steps", "expected an int >= 1, got 0"),
    ("crops-0", _set("extract.crops_per_clip", 0), "extract.crops_per_clip", "expected an int >= 1, got 0"),
    ("cap-negative", _set("extract.max_clips_per_video", -1), "extract.max_clips_per_video",
     "expected an int >= 0, got -1"),
    ("per-video-negative", _set("filter.max_per_video", -1), "filter.max_per_video", "expected an int >= 0, got -1"),
    ("seed-negative", _set("extract.seed", -1), "extract.seed", "expected an int >= 0, got -1"),
    ("demo-classes", _set("demo.classes", DEMO_MAX_CLASSES + 1), "demo.classes",
     f"expected an int in 1..{DEMO_MAX_CLASSES}, got {DEMO_MAX_CLASSES + 1}"),
    ("split-4", _set("data.split", 4), "data.split", "expected an int in 1..3, got 4"),
    ("split-0", _set("data.split", 0), "data.split", "expected an int in 1..3, got 0"),
    ("photos-classes", _set("photos.classes", PHOTOS_MAX_CLASSES + 1), "photos.classes",
     f"expected an int in 1..{PHOTOS_MAX_CLASSES}, got {PHOTOS_MAX_CLASSES + 1}"),
    ("photos-version", _set("photos.version", 3), "photos.version", "expected an int in 1..2, got 3"),
    ("min-kept-negative", _set("filter.min_kept", -1), "filter.min_kept", "expected an int >= 0, got -1"),
    # floats
    ("float-string", _set("filter.min_motion", "8.0"), "filter.min_motion", "expected a number >= 0, got '8.0'"),
    ("float-bool", _set("filter.min_motion", False), "filter.min_motion", "expected a number >= 0, got False"),
    ("float-negative", _set("filter.min_motion", -0.5), "filter.min_motion", "expected a number >= 0, got -0.5"),
    ("float-nan", _set("filter.min_motion", float("nan")), "filter.min_motion", "expected a number >= 0, got nan"),
    ("float-inf", _set("filter.min_motion", float("inf")), "filter.min_motion", "expected a number >= 0, got inf"),
    ("val-fraction-1", _set("filter.val_fraction", 1.0), "filter.val_fraction",
     "expected a number in [0, 1), got 1.0"),
    ("val-fraction-negative", _set("filter.val_fraction", -0.1), "filter.val_fraction",
     "expected a number in [0, 1), got -0.1"),
    # strings, paths, pairs
    ("source", _set("data.source", "kinetics"), "data.source",
     "expected one of demo, photos, stochastic, ucf101, sports1m, folder, got 'kinetics'"),
    ("root-not-string", _set("data.root", 123), "data.root", "expected a path (a non-empty string), got 123"),
    ("root-empty", _set("data.root", " "), "data.root", "expected a path (a non-empty string), got ' '"),
    ("noise-negative", _set("model.multiscale.noise", -1), "model.multiscale.noise", "expected an int >= 0, got -1"),
    ("stochastic-probability", _set("stochastic.switch_probability", 0), "stochastic.switch_probability",
     "expected a number in (0, 1], got 0.0"),
    # pathlib's RuntimeError for a home folder it cannot find was not a ParamsError.
    ("root-unknown-user", _set("data.root", "~nosuchuser0/videos"), "data.root",
     "expected a path (a non-empty string), got '~nosuchuser0/videos'"),
    ("frame-size-one", _set("extract.frame_size", [240]), "extract.frame_size",
     "expected a list of two ints [height, width], each >= 1, got [240]"),
    ("frame-size-three", _set("extract.frame_size", [240, 320, 3]), "extract.frame_size",
     "expected a list of two ints [height, width], each >= 1, got [240, 320, 3]"),
    ("frame-size-float", _set("extract.frame_size", [240.0, 320]), "extract.frame_size",
     "expected a list of two ints [height, width], each >= 1, got [240.0, 320]"),
    ("frame-size-string", _set("extract.frame_size", "240x320"), "extract.frame_size",
     "expected a list of two ints [height, width], each >= 1, got '240x320'"),
    # combinations: the message names the other key
    ("frame-size-below-patch", _set("extract.frame_size", [16, 320]), "extract.frame_size",
     "expected [height, width] each >= clip.patch (32), got [16, 320]"),
    ("patch-above-frame-size", _set("clip.patch", 300), "extract.frame_size",
     "expected [height, width] each >= clip.patch (300), got [240, 320]"),
    ("test-groups-equal", _set("demo.test_groups", 7), "demo.test_groups",
     "expected < demo.groups (7), so that training keeps at least one group, got 7"),
    ("groups-below-test-groups", _set("demo.groups", 1), "demo.test_groups",
     "expected < demo.groups (1), so that training keeps at least one group, got 2"),
    ("demo-frames-short", _set("demo.frames", 5), "demo.frames",
     "expected >= clip.input_frames + clip.test_steps * clip.output_frames (6), got 5"),
    ("paper-clip-needs-frames", _both(_set("clip.input_frames", 8), _set("clip.output_frames", 8),
                                      _set("clip.test_steps", 5)), "demo.frames",
     "expected >= clip.input_frames + clip.test_steps * clip.output_frames (48), got 40"),
    ("demo-split", _set("data.split", 2), "data.split",
     "expected 1 with data.source: demo (a generated set has split 1 only), got 2"),
    ("photos-split", _both(_set("data.source", "photos"), _set("data.split", 3)), "data.split",
     "expected 1 with data.source: photos (a generated set has split 1 only), got 3"),
    ("test-source", _set("data.test.source", "kinetics"), "data.test.source",
     "expected one of same, demo, photos, stochastic, ucf101, sports1m, folder, got 'kinetics'"),
    ("translate-source-is-source", _set("data.translate.source", "demo"), "data.translate.source",
     "expected same (with data.translate.classes), a source other than data.source (demo), or demo at another root "
     "(domain B is another set of videos than domain A's), got 'demo'"),
    ("translate-beside-a-test-source", _both(_set("data.translate.source", "photos"), _set("data.test.source", "stochastic")),
     "data.translate.source", "expected none with data.test.source: stochastic (each domain's test videos are its own "
     "source's), got 'photos'"),
    ("translate-root-with-none", _set("data.translate.root", "videos"), "data.translate.root",
     f"expected '' with data.translate.source: none (no domain B), got '{Path('videos').resolve()}'"),
    ("translate-root-generated", _both(_set("data.translate.source", "photos"), _set("data.translate.root", "videos")),
     "data.translate.root", f"expected '' with data.translate.source: photos (a generated set), got "
                            f"'{Path('videos').resolve()}'"),
    ("translate-root-missing", _set("data.translate.source", "folder"), "data.translate.root",
     "expected the folder of data.translate.source: folder's videos, got ''"),
    ("translate-same-without-classes", _set("data.translate.source", "same"), "data.translate.classes",
     "expected two classes [A's, B's] with data.translate.source: same (they split data.source's videos into the "
     "two domains), got []"),
    ("translate-one-class", _both(_set("data.translate.source", "photos"), _set("data.translate.classes", ["Tripod"])),
     "data.translate.classes", "expected [] or a list of two distinct class names [A's, B's], got ['Tripod']"),
    ("translate-class-of-another-set", _both(_set("data.translate.source", "photos"),
                                             _set("data.translate.classes", ["Translate", "Rotate"])),
     "data.translate.classes", "expected names of classes of each domain's set ('Rotate' is none of "
                               "data.translate.source: photos's Tripod, Handheld, Pan, Zoom), got ['Translate', 'Rotate']"),
    ("translate-classes-without-domain-b", _set("data.translate.classes", ["Translate", "Rotate"]),
     "data.translate.classes", "expected [] with data.translate.source: none (no domain B), got ['Translate', 'Rotate']"),
    ("translate-for-a-predictor", _set("data.translate.source", "photos"), "data.translate.source",
     "expected none with model.family: multiscale (domain B is read by cyclegan, discogan, dualgan alone), got "
     "'photos'"),
    ("test-source-is-source", _set("data.test.source", "demo"), "data.test.source",
     "expected same, a source other than data.source (demo), or demo at another root, got 'demo'"),
    ("test-root-with-same", _set("data.test.root", "videos"), "data.test.root",
     f"expected '' with data.test.source: same (data.root holds the test videos), got '{Path('videos').resolve()}'"),
    ("test-root-missing", _set("data.test.source", "ucf101"), "data.test.root",
     "expected the folder of data.test.source: ucf101's videos, got ''"),
    ("test-root-generated", _both(_set("data.test.source", "photos"), _set("data.test.root", "videos")),
     "data.test.root", f"expected '' with data.test.source: photos (a generated set), got '{Path('videos').resolve()}'"),
    ("test-split-generated", _both(_set("data.test.source", "photos"), _set("data.test.split", 2)), "data.test.split",
     "expected 1 with data.test.source: photos (a generated set has split 1 only), got 2"),
    ("test-source-condition", _both(_set("data.test.source", "photos"), _set("model.condition", "concat")),
     "model.condition", "expected none with data.test.source: photos (the test videos' classes are not the "
     "training videos' demo classes), got 'concat'"),
    ("photos-test-groups", _set("photos.test_groups", 4), "photos.test_groups",
     "expected < photos.groups (4), so that training keeps at least one group, got 4"),
    ("photos-frames-short", _set("photos.frames", 5), "photos.frames",
     "expected >= clip.input_frames + clip.test_steps * clip.output_frames (6), got 5"),
    ("patch-not-halvable", _set("clip.patch", 36), "clip.patch",
     "expected a multiple of 2^(model.multiscale.scales - 1) = 8, so that every scale halves it, got 36"),
    ("patch-too-small-for-d", _set("clip.patch", 16), "clip.patch",
     "expected at least 32 with model.multiscale.scales: 4 (Table 1's discriminator sees 2x2 at its scale 1, which "
     "its convolutions, kernels [3], leave nothing of), got 16"),
    # model, loss, train
    ("scales-5", _set("model.multiscale.scales", 5), "model.multiscale.scales", "expected an int in 1..4, got 5"),
    ("width-0", _set("model.multiscale.width", 0), "model.multiscale.width", "expected a number >= 0.001, got 0"),
    ("adversarial-flat", _set("loss.adversarial", "bce"), "loss.adversarial",
     "expected a mapping of keys, got 'bce'"),
    ("adversarial-kind", _set("loss.adversarial.kind", "hinje"), "loss.adversarial.kind",
     "expected one of bce, minimax, lsgan, hinge, fgan, wgan, wgan_gp, ebgan, began, got 'hinje'"),
    ("wgan-critic-steps-0", _set("loss.adversarial.wgan.critic_steps", 0), "loss.adversarial.wgan.critic_steps",
     "expected an int >= 1, got 0"),
    ("wgan-gp-weight", _set("loss.adversarial.wgan_gp.gp_weight", -1), "loss.adversarial.wgan_gp.gp_weight",
     "expected a number >= 0, got -1"),
    ("adversarial-unknown-key", _set("loss.adversarial.gamma", 0.5), "loss.adversarial.gamma",
     "unknown key (known: began, d_pause, d_steps, ebgan, fgan, kind, wgan, wgan_gp)"),
    ("began-unknown-key", _set("loss.adversarial.began.k_0", 0.1), "loss.adversarial.began.k_0",
     "unknown key (known: gamma, lambda_k)"),
    ("ebgan-margin-0", _set("loss.adversarial.ebgan.margin", 0), "loss.adversarial.ebgan.margin",
     "expected a number >= 1e-09, got 0"),
    ("began-missing", lambda raw: raw["loss"]["adversarial"].pop("began"), "loss.adversarial.began", "missing key"),
    ("family", _set("model.family", "gaai"), "model.family",
     "expected one of multiscale, gaia, dcgan, lapgan, vaegan, biggan, gran, icgan, inversion, cyclegan, discogan, "
     "dualgan, got 'gaai'"),
    ("model-flat", lambda raw: raw["model"].update(raw["model"].pop("multiscale")), "model.scales",
     "unknown key (known: attention, biggan, condition, cyclegan, d_norm, dcgan, discogan, dualgan, embedding, family, "
     "gaia, gran, icgan, inversion, lapgan, multiscale, vaegan)"),
    ("condition", _set("model.condition", "film"), "model.condition",
     "expected one of none, concat, acgan, projection, got 'film'"),
    ("projection-multiscale", _set("model.condition", "projection"), "model.condition",
     "expected one of none, concat, acgan with model.family: multiscale (projection is the conditioning of biggan), "
     "got 'projection'"),
    ("embedding-0", _set("model.embedding", 0), "model.embedding", "expected an int >= 1, got 0"),
    ("class-d", _set("loss.class_d", "fake"), "loss.class_d", "expected one of both, real, got 'fake'"),
    ("fgan-divergence", _set("loss.adversarial.fgan.divergence", "jensen"), "loss.adversarial.fgan.divergence",
     "expected one of kl, reverse_kl, pearson, hellinger, js, gan, got 'jensen'"),
    ("fgan-unknown-key", _set("loss.adversarial.fgan.alpha", 1), "loss.adversarial.fgan.alpha",
     "unknown key (known: divergence)"),
    ("adversarial-missing-kind", lambda raw: raw["loss"]["adversarial"].pop("kind"), "loss.adversarial.kind",
     "missing key"),
    ("d-steps-0", _set("loss.adversarial.d_steps", 0), "loss.adversarial.d_steps", "expected an int >= 1, got 0"),
    ("d-leak-1", _set("model.multiscale.d_leak", 1), "model.multiscale.d_leak", "expected a number in [0, 1), got 1"),
    ("p-3", _set("loss.p", 3), "loss.p", "expected an int in 1..2, got 3"),
    ("alpha-below-1", _set("loss.alpha", 0.5), "loss.alpha", "expected a number >= 1, got 0.5"),
    ("lambda-negative", _set("loss.gdl", -1), "loss.gdl", "expected a number >= 0, got -1"),
    ("optimizer", _set("train.optimizer", "lbfgs"), "train.optimizer",
     "expected one of sgd, adam, rmsprop, got 'lbfgs'"),
    ("betas-one", _set("train.betas", [0.5]), "train.betas",
     "expected a list of two numbers [beta1, beta2], each in [0, 1), got [0.5]"),
    ("betas-1", _set("train.betas", [0.5, 1.0]), "train.betas",
     "expected a list of two numbers [beta1, beta2], each in [0, 1), got [0.5, 1.0]"),
    ("betas-string", _set("train.betas", "0.5, 0.9"), "train.betas",
     "expected a list of two numbers [beta1, beta2], each in [0, 1), got '0.5, 0.9'"),
    ("compile-string", _set("train.compile", "yes"), "train.compile", "expected true or false, got 'yes'"),
    ("device", _set("train.device", "tpu"), "train.device", "expected one of auto, cpu, cuda, got 'tpu'"),
    ("steps-0", _set("train.steps", 0), "train.steps", "expected an int in 1..1000000000, got 0"),
    ("steps-huge", _set("train.steps", 10**20), "train.steps",
     "expected an int in 1..1000000000, got 100000000000000000000"),
    ("skip", _set("model.multiscale.skip", "first_frame"), "model.multiscale.skip", "expected one of none, last_frame, got 'first_frame'"),
    ("augment-unknown", _set("train.augment", ["flip", "mirror"]), "train.augment",
     "expected a list of distinct names out of flip, rotate, reverse, colour (or []), got ['flip', 'mirror']"),
    ("augment-twice", _set("train.augment", ["flip", "flip"]), "train.augment",
     "expected a list of distinct names out of flip, rotate, reverse, colour (or []), got ['flip', 'flip']"),
    ("augment-string", _set("train.augment", "flip"), "train.augment",
     "expected a list of distinct names out of flip, rotate, reverse, colour (or []), got 'flip'"),
    ("colour-jitter-1", _set("train.colour_jitter", 1.0), "train.colour_jitter",
     "expected a number in [0, 1), got 1.0"),
    ("keep", _set("train.keep", "first"), "train.keep", "expected one of last, best, got 'first'"),
    # the fine-tuning on larger patches
    ("finetune-steps", _set("finetune.steps", 0), "finetune.steps", "expected an int in 1..1000000000, got 0"),
    ("finetune-patch-small", _set("finetune.patch", 32), "finetune.patch", "expected 0 or > clip.patch (32), got 32"),
    ("finetune-patch-halving", _set("finetune.patch", 68), "finetune.patch",
     "expected 0 or a multiple of 2^(model.multiscale.scales - 1) = 8, so that every scale halves it, got 68"),
    ("finetune-patch-frame", _set("finetune.patch", 248), "finetune.patch",
     "expected 0 or at most the smaller side of extract.frame_size (240), got 248"),
    ("finetune-gaia", _both(_set("model.family", "gaia"), _set("finetune.patch", 64)), "finetune.patch",
     "expected 0 with model.family: gaia (its autoencoders' sizes are fixed), got 64"),
    # DCGAN: what it refuses, one line naming the key (its networks, its objectives, its starts)
    ("dcgan-patch", _both(_set("model.family", "dcgan"), _set("clip.patch", 48)), "clip.patch",
     "expected 32 or 64 with model.family: dcgan (its networks' sizes, as DCGAN's), got 48"),
    ("dcgan-ebgan", _both(_set("model.family", "dcgan"), _set("loss.adversarial.kind", "ebgan")),
     "loss.adversarial.kind",
     "expected one of bce, minimax, lsgan, hinge, fgan, wgan, wgan_gp with model.family: dcgan (its discriminator is "
     "a classifier; ebgan trains an autoencoder), got 'ebgan'"),
    ("dcgan-pause", _both(_set("model.family", "dcgan"), _set("loss.adversarial.d_pause", 0.1)),
     "loss.adversarial.d_pause", "expected 0 with model.family: dcgan (DCGAN updates D every step), got 0.1"),
    # A conditioned DCGAN draws single images: only a source whose classes one frame shows (stochastic).
    ("dcgan-condition-demo", _both(_set("model.family", "dcgan"), _set("model.condition", "acgan")), "model.condition",
     "expected none with model.family: dcgan on data.source: demo (a generator of single images learns a class only "
     "where one frame shows it: the demo's classes are motions, the photo set's camera motions; a class-conditioned "
     "DCGAN needs data.source: stochastic), got 'acgan'"),
    ("dcgan-condition-photos", _both(_set("model.family", "dcgan"), _set("model.condition", "concat"),
                                     _set("data.source", "photos")), "model.condition",
     "expected none with model.family: dcgan on data.source: photos (a generator of single images learns a class "
     "only where one frame shows it: the demo's classes are motions, the photo set's camera motions; a "
     "class-conditioned DCGAN needs data.source: stochastic), got 'concat'"),
    ("dcgan-condition-test-source", _both(_set("model.family", "dcgan"), _set("model.condition", "concat"),
                                          _set("data.source", "stochastic"), _set("data.test.source", "demo")),
     "model.condition", "expected none with data.test.source: demo (the test videos' classes are not the training "
     "videos' stochastic classes), got 'concat'"),
    ("lapgan-condition", _both(_set("model.family", "lapgan"), _set("model.condition", "concat"),
                               _set("data.source", "stochastic")), "model.condition",
     "expected none with model.family: lapgan (its generator takes no class), got 'concat'"),
    ("vaegan-condition", _both(_set("model.family", "vaegan"), _set("model.condition", "acgan"),
                               _set("data.source", "stochastic")), "model.condition",
     "expected none with model.family: vaegan (its generator takes no class), got 'acgan'"),
    ("dcgan-d-norm", _both(_set("model.family", "dcgan"), _set("model.d_norm", "spectral")), "model.d_norm",
     "expected none with model.family: dcgan (DCGAN's discriminator normalises as its guidelines say: "
     "model.dcgan.batch_norm), got 'spectral'"),
    ("dcgan-attention", _both(_set("model.family", "dcgan"), _set("model.attention", True)), "model.attention",
     "expected false with model.family: dcgan (DCGAN's networks have no attention block), got True"),
    ("dcgan-finetune", _both(_set("model.family", "dcgan"), _set("finetune.patch", 64)), "finetune.patch",
     "expected 0 with model.family: dcgan (its networks' sizes are fixed by clip.patch), got 64"),
    ("dcgan-optimizer", _set("model.dcgan.optimizer", "sgd"), "model.dcgan.optimizer",
     "expected one of adam, rmsprop, got 'sgd'"),
    ("dcgan-latent-0", _set("model.dcgan.latent", 0), "model.dcgan.latent", "expected an int >= 1, got 0"),
    # LAPGAN: its levels on the patch (the coarsest at least 8x8), the objectives, norms and starts it refuses
    ("lapgan-coarsest", _both(_set("model.family", "lapgan"), _set("model.lapgan.levels", 4)), "clip.patch",
     "expected a multiple of 2^(model.lapgan.levels - 1) = 8 of at least 64 with model.family: lapgan (every level "
     "halves it, the coarsest at least 8x8), got 32"),
    ("lapgan-halving", _both(_set("model.family", "lapgan"), _set("clip.patch", 34)), "clip.patch",
     "expected a multiple of 2^(model.lapgan.levels - 1) = 4 of at least 32 with model.family: lapgan (every level "
     "halves it, the coarsest at least 8x8), got 34"),
    ("lapgan-began", _both(_set("model.family", "lapgan"), _set("loss.adversarial.kind", "began")),
     "loss.adversarial.kind",
     "expected one of bce, minimax, lsgan, hinge, fgan, wgan, wgan_gp with model.family: lapgan (each level's "
     "discriminator is a classifier; began trains an autoencoder), got 'began'"),
    ("lapgan-d-norm", _both(_set("model.family", "lapgan"), _set("model.d_norm", "batch")), "model.d_norm",
     "expected none with model.family: lapgan (LAPGAN's discriminators have no normalisation layers), got 'batch'"),
    ("lapgan-finetune", _both(_set("model.family", "lapgan"), _set("finetune.patch", 64)), "finetune.patch",
     "expected 0 with model.family: lapgan (its levels' sizes are fixed by clip.patch), got 64"),
    ("lapgan-levels-0", _set("model.lapgan.levels", 0), "model.lapgan.levels", "expected an int in 1..6, got 0"),
    # VAE-GAN: DCGAN's sizes, D's hidden layer, the objectives and norms it refuses
    ("vaegan-patch", _both(_set("model.family", "vaegan"), _set("clip.patch", 48)), "clip.patch",
     "expected 32 or 64 with model.family: vaegan (its networks' sizes, as DCGAN's), got 48"),
    ("vaegan-layer", _both(_set("model.family", "vaegan"), _set("model.vaegan.layer", 4)), "model.vaegan.layer",
     "expected at most 3 with clip.patch: 32 (the discriminator's hidden layers), got 4"),
    ("vaegan-ebgan", _both(_set("model.family", "vaegan"), _set("loss.adversarial.kind", "ebgan")),
     "loss.adversarial.kind",
     "expected one of bce, minimax, lsgan, hinge, fgan, wgan, wgan_gp with model.family: vaegan (its discriminator "
     "is a classifier; ebgan trains an autoencoder), got 'ebgan'"),
    ("vaegan-d-norm", _both(_set("model.family", "vaegan"), _set("model.d_norm", "spectral")), "model.d_norm",
     "expected none with model.family: vaegan (VAE-GAN's discriminator normalises as DCGAN's: "
     "model.vaegan.batch_norm), got 'spectral'"),
    ("vaegan-gamma", _set("model.vaegan.gamma", -1), "model.vaegan.gamma", "expected a number >= 0, got -1"),
    # BigGAN: its conditioning (the projection, on a source whose classes one frame shows), z's chunks,
    # the objectives it refuses, its knobs
    ("biggan-acgan", _both(_set("model.family", "biggan"), _set("model.condition", "acgan"),
                           _set("data.source", "stochastic")), "model.condition",
     "expected one of none, projection with model.family: biggan (acgan is the conditioning of multiscale and "
     "dcgan), got 'acgan'"),
    ("biggan-projection-demo", _both(_set("model.family", "biggan"), _set("model.condition", "projection")),
     "model.condition",
     "expected none with model.family: biggan on data.source: demo (a generator of single images learns a class "
     "only where one frame shows it: the demo's classes are motions, the photo set's camera motions; a "
     "class-conditioned BigGAN needs data.source: stochastic), got 'projection'"),
    ("projection-dcgan", _both(_set("model.family", "dcgan"), _set("model.condition", "projection"),
                               _set("data.source", "stochastic")), "model.condition",
     "expected one of none, concat, acgan with model.family: dcgan (projection is the conditioning of biggan), "
     "got 'projection'"),
    ("biggan-chunks", _both(_set("model.family", "biggan"), _set("model.biggan.latent", 126)), "model.biggan.latent",
     "expected a multiple of 4 with model.biggan.hierarchical and clip.patch: 32 (z in equal chunks: one for the "
     "first map, one per block), got 126"),
    ("biggan-began", _both(_set("model.family", "biggan"), _set("loss.adversarial.kind", "began")),
     "loss.adversarial.kind",
     "expected one of bce, minimax, lsgan, hinge, fgan, wgan, wgan_gp with model.family: biggan (its discriminator "
     "is a classifier; began trains an autoencoder), got 'began'"),
    ("biggan-d-norm", _both(_set("model.family", "biggan"), _set("model.d_norm", "batch")), "model.d_norm",
     "expected none with model.family: biggan (BigGAN's networks are spectrally normalised throughout), got 'batch'"),
    ("biggan-decay", _set("model.biggan.ema_decay", 1.0), "model.biggan.ema_decay", "expected a number in [0, 1), got 1.0"),
    ("biggan-standing-0", _set("model.biggan.standing", 0), "model.biggan.standing", "expected an int >= 1, got 0"),
    # GRAN: its noise, steps, and what it refuses
    ("gran-noise", _set("model.gran.noise", "twice"), "model.gran.noise", "expected one of each, once, got 'twice'"),
    ("gran-steps-0", _set("model.gran.steps", 0), "model.gran.steps", "expected an int >= 1, got 0"),
    ("gran-condition", _both(_set("model.family", "gran"), _set("model.condition", "concat"),
                             _set("data.source", "stochastic")), "model.condition",
     "expected none with model.family: gran (its generator takes no class), got 'concat'"),
    ("gran-wgan-d-norm", _both(_set("model.family", "gran"), _set("model.d_norm", "spectral")), "model.d_norm",
     "expected none with model.family: gran (GRAN's discriminator normalises as DCGAN's: model.gran.batch_norm), "
     "got 'spectral'"),
    # IcGAN: a cGAN by concat on a source whose classes one frame shows, its encoders trained before train.steps
    ("icgan-demo", _icgan(_set("data.source", "demo")), "data.source",
     "expected stochastic with model.family: icgan (IcGAN's cGAN and its class encoder learn a class from single "
     "images: the demo's classes are motions, the photo set's camera motions), got 'demo'"),
    ("icgan-acgan", _icgan(_set("model.condition", "acgan")), "model.condition",
     "expected concat with model.family: icgan (IcGAN's cGAN: G takes the class beside z, D over the image), "
     "got 'acgan'"),
    ("icgan-unconditioned", _icgan(_set("model.condition", "none")), "model.condition",
     "expected concat with model.family: icgan (IcGAN's cGAN: G takes the class beside z, D over the image), "
     "got 'none'"),
    ("icgan-ebgan", _icgan(_set("loss.adversarial.kind", "ebgan")), "loss.adversarial.kind",
     "expected one of bce, minimax, lsgan, hinge, fgan, wgan, wgan_gp with model.family: icgan (its discriminator is "
     "a classifier; ebgan trains an autoencoder), got 'ebgan'"),
    ("icgan-encoder-from", _icgan(_set("model.icgan.encoder_from", 800)), "model.icgan.encoder_from",
     "expected less than train.steps: 800 (the cGAN trains for the updates before it, the encoders from it to "
     "train.steps), got 800"),
    ("icgan-encoder-from-0", _set("model.icgan.encoder_from", 0), "model.icgan.encoder_from",
     "expected an int >= 1, got 0"),
    # DeePSiM's inversion: its terms, the builtin network's layers, what it refuses
    ("inversion-no-term", _inversion(_set("model.inversion.feature_weight", 0.0),
                                     _set("model.inversion.adversarial_weight", 0.0),
                                     _set("model.inversion.image_weight", 0.0)), "model.inversion.image_weight",
     "expected > 0 where model.inversion.feature_weight and adversarial_weight are 0 (G learns from no term), got 0.0"),
    ("inversion-weight-negative", _set("model.inversion.feature_weight", -1.0), "model.inversion.feature_weight",
     "expected a number >= 0, got -1.0"),
    ("inversion-layer-6", _inversion(_set("model.inversion.layer", 6)), "model.inversion.layer",
     "expected at most 5 with model.inversion.network: builtin (its trunk's four blocks, then its pooled features), "
     "got 6"),
    ("inversion-comparator-0", _set("model.inversion.comparator_layer", 0), "model.inversion.comparator_layer",
     "expected an int >= 1, got 0"),
    ("inversion-network-number", _set("model.inversion.network", 3), "model.inversion.network",
     "expected builtin or a path to a TorchScript file, got 3"),
    ("inversion-condition", _inversion(_set("model.condition", "concat"), _set("data.source", "stochastic")),
     "model.condition", "expected none with model.family: inversion (its generator takes no class), got 'concat'"),
    ("inversion-began", _inversion(_set("loss.adversarial.kind", "began")), "loss.adversarial.kind",
     "expected one of bce, minimax, lsgan, hinge, fgan, wgan, wgan_gp with model.family: inversion (its "
     "discriminator is a classifier; began trains an autoencoder), got 'began'"),
    # The translators: their networks' patch sides, what they refuse, their own keys
    ("cyclegan-patch-48", _translator("cyclegan", _set("clip.patch", 48)), "clip.patch",
     "expected 32 or 64 with model.family: cyclegan (its networks' sizes, as DCGAN's), got 48"),
    ("cyclegan-no-domain-b", _set("model.family", "cyclegan"), "data.translate.source",
     "expected a data source with model.family: cyclegan (its domain B; domain A is data.source's), got 'none'"),
    ("discogan-condition", _translator("discogan", _set("model.condition", "concat"), _set("data.source", "stochastic")),
     "model.condition", "expected none with model.family: discogan (its generator takes no class), got 'concat'"),
    ("dualgan-d-norm", _translator("dualgan", _set("model.d_norm", "spectral")), "model.d_norm",
     "expected none with model.family: dualgan (DualGAN's networks normalise as its paper says), got 'spectral'"),
    ("cyclegan-attention", _translator("cyclegan", _set("model.attention", True)), "model.attention",
     "expected false with model.family: cyclegan (CycleGAN's networks have no attention block), got True"),
    ("cyclegan-began", _translator("cyclegan", _set("loss.adversarial.kind", "began")), "loss.adversarial.kind",
     "expected one of bce, minimax, lsgan, hinge, fgan, wgan, wgan_gp with model.family: cyclegan (its "
     "discriminators are classifiers; began trains an autoencoder), got 'began'"),
    ("cyclegan-receptive-40", _translator("cyclegan", _set("model.cyclegan.receptive", 40)), "model.cyclegan.receptive",
     "expected 0 (the patch side) or 7 (the field of no stride-2 layer) to clip.patch: 32, got 40"),
    ("dualgan-receptive-8", _translator("dualgan", _set("model.dualgan.receptive", 8)), "model.dualgan.receptive",
     "expected 0 (the patch side) or 9 (the field of no stride-2 layer) to clip.patch: 32, got 8"),
    ("discogan-code-wgan", _translator("discogan", _set("model.discogan.recipe", "code"),
                                       _set("loss.adversarial.kind", "wgan")), "loss.adversarial.kind",
     "expected bce with model.discogan.recipe: code (the published code's halved cross-entropy and feature matching), "
     "got 'wgan'"),
    ("discogan-recipe", _set("model.discogan.recipe", "github"), "model.discogan.recipe",
     "expected one of paper, code, got 'github'"),
    ("dualgan-dropout-1", _set("model.dualgan.dropout", 1.0), "model.dualgan.dropout",
     "expected a number in [0, 1), got 1.0"),
    ("truncation-0", _set("evaluate.truncation", [1.0, 0]), "evaluate.truncation",
     "expected a list of distinct numbers > 0 (or []), got [1.0, 0]"),
    # the evaluation's networks and patches, the best-of-many objective
    ("features-number", _set("evaluate.features", 3), "evaluate.features",
     "expected builtin (the project's own), a path, or '' for none, got 3"),
    ("fid-patches-1", _set("evaluate.fid_patches", 1), "evaluate.fid_patches", "expected an int >= 2, got 1"),
    ("best-of-0", _set("loss.best_of", 0), "loss.best_of", "expected an int >= 1, got 0"),
]


@pytest.mark.parametrize("mutate,key,problem", [pytest.param(*case[1:], id=case[0]) for case in ERRORS])
def test_invalid_params_name_file_key_and_expectation(mutate, key, problem):
    raw = _raw()
    mutate(raw)
    assert _parse_error(raw) == f"{SOURCE}: {key}: {problem}"


def test_unknown_section():
    raw = _raw()
    raw["optimizer"] = {"name": "sgd"}
    assert _parse_error(raw) == (f"{SOURCE}: optimizer: unknown section "
                                 f"(known: clip, data, demo, photos, stochastic, extract, filter, model, loss, train, finetune, evaluate)")


@pytest.mark.parametrize("raw,found", [([1, 2], "[1, 2]"), (None, "nothing (an empty value)"), ("clip", "'clip'")])
def test_file_must_be_a_mapping(raw, found):
    assert _parse_error(raw) == f"{SOURCE}: expected a mapping of sections, got {found}"


def test_the_named_source_is_in_messages():
    raw = _raw()
    raw["extract"]["workers"] = 0
    assert _parse_error(raw, "conf/other.yaml") == "conf/other.yaml: extract.workers: expected an int >= 1, got 0"


def test_source_other_than_demo_needs_an_existing_root(tmp_path):
    raw = _raw()
    raw["data"].update(source="ucf101", root=str(tmp_path / "x" / "y"))
    assert _parse_error(raw) == (f"{SOURCE}: data.root: path does not exist: {tmp_path / 'x' / 'y'} "
                                 f"(data.source: ucf101 reads its videos there)")
    (tmp_path / "file").write_text("")
    raw["data"].update(source="folder", root=str(tmp_path / "file"))
    assert _parse_error(raw) == (f"{SOURCE}: data.root: not a directory: {tmp_path / 'file'} "
                                 f"(data.source: folder reads its videos there)")


def test_domain_b_needs_an_existing_root_resolved_against_the_params_folder(tmp_path):
    raw = _raw()
    raw["model"]["family"] = "cyclegan"
    raw["data"]["translate"].update(source="folder", root="x/y")
    assert _parse_error(raw, str(tmp_path / "params.yaml")) == (
        f"{tmp_path / 'params.yaml'}: data.translate.root: path does not exist: {tmp_path / 'x' / 'y'} "
        f"(data.translate.source: folder reads domain B's videos there)")


def test_a_test_source_needs_an_existing_root_resolved_against_the_params_folder(tmp_path):
    raw = _raw()
    raw["data"]["test"].update(source="ucf101", root="x/y")
    assert _parse_error(raw, str(tmp_path / "params.yaml")) == (
        f"{tmp_path / 'params.yaml'}: data.test.root: path does not exist: {tmp_path / 'x' / 'y'} "
        f"(data.test.source: ucf101 reads its test videos there)")
    (tmp_path / "x" / "y").mkdir(parents=True)
    assert parse_params(raw, str(tmp_path / "params.yaml")).data.test.root == str(tmp_path / "x" / "y")


def test_a_familys_own_file_is_resolved_against_the_params_folder_and_must_exist_for_that_family(tmp_path):
    raw = _raw()
    _inversion(_set("model.inversion.network", "nets/layers.pt"))(raw)
    source = str(tmp_path / "params.yaml")
    assert _parse_error(raw, source) == (f"{source}: model.inversion.network: no such file: "
                                         f"{tmp_path / 'nets' / 'layers.pt'}")
    raw["model"]["family"] = "dcgan"  # a key only another family reads is resolved, never required
    assert parse_params(raw, source).model.inversion.network == str(tmp_path / "nets" / "layers.pt")
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "layers.pt").write_bytes(b"")
    raw["model"]["family"] = "inversion"
    assert parse_params(raw, source).model.inversion.network == str(tmp_path / "nets" / "layers.pt")


def test_error_is_a_picklable_value_error():
    error = ParamsError("params.yaml", "clip.patch", "expected an int >= 4, got 3")
    assert isinstance(error, ValueError)
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.key == "clip.patch"


def test_parse_does_not_modify_its_input():
    raw = _raw()
    before = copy.deepcopy(raw)
    parse_params(raw)
    assert raw == before


# ------------------------------------------------------------------------------ files and root paths


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "params.yaml"
    path.write_text(text)
    return path


def test_relative_root_is_resolved_against_the_params_folder(tmp_path, monkeypatch):
    (tmp_path / "conf" / "videos").mkdir(parents=True)
    text = FROZEN.read_text().replace("source: demo", "source: folder").replace("root: data/demo", "root: videos")
    path = _write(tmp_path / "conf", text)
    monkeypatch.chdir(REPO)  # not the params folder: the root must not depend on the working directory
    root = load_params(path).data.root
    assert root == (tmp_path / "conf" / "videos").resolve() and root.is_absolute()


def test_absolute_root_is_kept(tmp_path):
    raw = _raw()
    raw["data"].update(source="sports1m", root=str(tmp_path))
    assert parse_params(raw, "elsewhere/params.yaml").data.root == tmp_path.resolve()


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ParamsError) as info:
        load_params(path)
    assert str(info.value) == f"{path}: no such file: {path}"


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(ParamsError, match=rf"^{tmp_path}: cannot read the file: "):
        load_params(tmp_path)


@pytest.mark.parametrize("text,problem", [
    ("clip: [1, 2\n", "not valid YAML: expected ',' or ']', but got '<stream end>' (line 2, column 1)"),
    ("clip:\n  patch: 32\n  patch: 64\n", "not valid YAML: duplicate key 'patch' (line 3, column 3)"),
    ("clip:\n\tpatch: 32\n", "not valid YAML: found character '\\t' that cannot start any token (line 2, column 1)"),
], ids=["unclosed", "duplicate-key", "tab"])
def test_unparsable_file(tmp_path, text, problem):
    path = _write(tmp_path, text)
    with pytest.raises(ParamsError) as info:
        load_params(path)
    assert str(info.value) == f"{path}: {problem}"


def _with(text: str, key: str, value: str) -> str:
    """``text`` (a params file) with the first ``key:`` line of its ``train`` section (other sections
    have keys of the same names: model.dcgan.lr_g) with its value replaced, its comment kept."""
    head, train, rest = text.partition("\ntrain:")
    return head + train + re.sub(rf"(\n *{key}: )[^ \n]+", lambda m: m.group(1) + value, rest, count=1)


def test_numbers_in_scientific_notation_are_numbers(tmp_path):
    # As DVC and ruamel write small floats (`dvc exp run -S train.lr_g=5e-5` writes 5e-05), and as a
    # person types them: YAML 1.1 read these as strings, refused with "expected a number".
    text = _with(_with(_with(FROZEN.read_text(), "lr_g", "5e-05"), "lr_d", "1e-4"), "lr_g_final", "1.5E-6")
    train = load_params(_write(tmp_path, text)).train
    assert (train.lr_g, train.lr_d, train.lr_g_final) == (5e-05, 1e-4, 1.5e-6)
    assert load_params(_write(tmp_path, _with(FROZEN.read_text(), "lr_g", "1e3"))).train.lr_g == 1000.0
    # Only numbers: a quoted one stays a string; an int key refuses a float.
    with pytest.raises(ParamsError, match="train.lr_g: expected a number >= 0, got '5e-05'"):
        load_params(_write(tmp_path, _with(FROZEN.read_text(), "lr_g", "'5e-05'")))
    with pytest.raises(ParamsError, match=r"train.steps: expected an int in 1..1000000000, got 800.0"):
        load_params(_write(tmp_path, _with(FROZEN.read_text(), "steps", "8e2")))  # train.steps comes first


def test_merge_keys_merge(tmp_path):
    # `<<: *anchor` was refused as "not valid YAML" (the duplicate-key check built the << key).
    text = FROZEN.read_text()
    start, end = text.index("\ndemo:"), text.index("\nstochastic:")
    text = (text[:start] + "\ndemo: &generated\n  classes: 6\n  groups: 7\n  test_groups: 2\n  clips_per_group: 2\n"
            "  frames: 40\n  seed: 0\nphotos:\n  <<: *generated\n  classes: 4\n  groups: 4\n  test_groups: 1\n  version: 1\n"
            + text[end:])
    p = load_params(_write(tmp_path, text))
    assert (p.photos.classes, p.photos.groups, p.photos.frames, p.photos.clips_per_group) == (4, 4, 40, 2)
    with pytest.raises(ParamsError, match="duplicate key 'classes'"):  # written twice beside the merge
        load_params(_write(tmp_path, text.replace("  classes: 4\n", "  classes: 4\n  classes: 5\n")))


def test_empty_file(tmp_path):
    path = _write(tmp_path, "# nothing yet\n")
    with pytest.raises(ParamsError) as info:
        load_params(path)
    assert str(info.value) == f"{path}: expected a mapping of sections, got nothing (an empty value)"


def test_file_errors_come_from_the_contents(tmp_path):
    path = _write(tmp_path, SHIPPED.read_text().replace("workers: 2", "workers: two"))
    with pytest.raises(ParamsError) as info:
        load_params(path)
    assert str(info.value) == f"{path}: extract.workers: expected an int >= 1, got 'two'"


# --------------------------------------------------------------------------------------- fuzzing

_KEYS = [f"{section}.{key}" for section, keys in _raw().items() for key in keys]
_VALUES = (st.none() | st.booleans() | st.integers(-3, 300) | st.integers(10**300, 10**400) | st.floats()
           | st.text(max_size=4) | st.lists(st.integers(-3, 400), max_size=3)
           | st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(_KEYS), value=_VALUES)
def test_any_single_value_loads_or_names_its_key(key, value):
    # Whatever one key holds, the loader accepts it or says so naming that key: never another exception
    # type, never a message that leaves the user guessing which key to fix.
    raw = _raw()
    _set(key, value)(raw)
    try:
        parse_params(raw, SHIPPED)
    except ParamsError as error:
        assert "\n" not in str(error)
        assert str(error).startswith(f"{SHIPPED}: ")
        assert key in str(error), str(error)


def test_the_readme_s_sports1m_to_ucf101_block_is_valid(tmp_path):
    # The README shows the paper's setting (trained on Sports-1M, tested on UCF101) as a data section.
    blocks = re.findall(r"```yaml\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    block = next(yaml.safe_load(b) for b in blocks if "source: sports1m" in b and "test:" in b)
    raw = _raw()
    raw["data"] = {**raw["data"], **block["data"]}  # the keys it shows: the others keep params.yaml's values
    for section in (raw["data"], raw["data"]["test"]):
        (tmp_path / section["root"].strip("/")).mkdir(parents=True)
        section["root"] = str(tmp_path / section["root"].strip("/"))
    data = parse_params(raw).data
    assert (data.source, data.test_source, data.sources) == ("sports1m", "ucf101", ("sports1m", "ucf101"))
