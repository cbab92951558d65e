"""Each registry and its table (pyext.config) name the same pieces, nothing else branches on a
family's, objective's or condition's name, and a new objective or model family is its module plus one
table entry: a throwaway one, written to a temporary module, trains and is evaluated."""
from __future__ import annotations

import ast
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml

from cases import TEST_PARAMS
from pyext import config
from pyext.config import FAMILIES, OBJECTIVES, Family, Objective, parse_params
from pyext.evaluation import EVALUATIONS, evaluate_model
from pyext.files import DataFiles, EvaluationFiles, RunFiles
from pyext.losses import ADVERSARIAL, COMPARATORS, CONDITIONS, AdversarialObjective, Comparator, Condition
from pyext.losses.adversarial.fgan import DIVERGENCES
from pyext.models import DISCRIMINATORS, Model, load_generator
from pyext.models import FAMILIES as MODELS
from pyext.registry import Registry
from pyext.training import STEPS, TrainingStep, train

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Each registry, its table, and what its implementations are.
PAIRS = [(MODELS, config.FAMILIES, Model), (STEPS, config.FAMILIES, TrainingStep),
         (EVALUATIONS, config.FAMILIES, None), (DISCRIMINATORS, config.DISCRIMINATORS, torch.nn.Module),
         (ADVERSARIAL, config.OBJECTIVES, AdversarialObjective), (CONDITIONS, config.CONDITIONS, Condition),
         (COMPARATORS, config.COMPARATORS, Comparator)]


@pytest.mark.parametrize("registry,table,kind", PAIRS, ids=[r.what for r, _, _ in PAIRS])
def test_each_registry_names_its_tables_entries(registry, table, kind):
    assert list(registry) == list(table)
    for name in table:
        implementation = registry[name]
        assert callable(implementation) and (kind is None or issubclass(implementation, kind)), name


def test_the_tables_name_what_they_refer_to():
    assert sorted(DIVERGENCES) == sorted(config.FGAN_DIVERGENCES)
    for facts in OBJECTIVES.values():
        assert facts.discriminator in config.DISCRIMINATORS
    for name, source in config.SOURCES.items():
        if source.generator:
            module, function = source.generator.split(":")
            assert callable(getattr(__import__(module, fromlist=[function]), function)), name
    from pyext.data import demo, photos
    assert demo.CLASSES == config.SOURCES["demo"].classes and photos.CLASSES == config.SOURCES["photos"].classes
    assert sorted(photos.MOTIONS) == list(range(1, config.data.PHOTOS_VERSIONS + 1))


def test_a_registry_refuses_what_its_table_lacks_and_names_an_empty_module():
    table = {"listed": "builtins"}
    registry = Registry("piece", table, lambda module: module)
    with pytest.raises(ValueError, match="piece 'stray' is registered but its table lists no such entry"):
        registry.register("stray")(object)
    with pytest.raises(LookupError, match="piece 'listed': its module builtins registers no such piece"):
        registry["listed"]
    with pytest.raises(KeyError, match="unknown piece 'other'"):
        registry["other"]
    registry.register("listed")(object)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("listed")(object)


def _names_compared(path: Path) -> list[str]:
    """The comparisons in ``path`` of a family's, objective's or condition's key with one of their
    names: ``model.family == "gaia"``, ``kind in ("ebgan", "began")``."""
    names = set(config.FAMILIES) | set(config.OBJECTIVES) | set(config.CONDITIONS)
    keys = {"family", "kind", "condition"}
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Compare):
            continue
        parts = [n for side in (node.left, *node.comparators) for n in ast.walk(side)]
        named = {n.attr for n in parts if isinstance(n, ast.Attribute)} | {n.id for n in parts if isinstance(n, ast.Name)}
        if named & keys and any(isinstance(n, ast.Constant) and n.value in names for n in parts):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_branch_on_a_registered_name_outside_the_tables():
    modules = [p for p in (*(REPO / "pyext").rglob("*.py"), *(REPO / "pipeline").glob("*.py"))
               if "config" not in p.relative_to(REPO).parts]
    assert [hit for module in modules for hit in _names_compared(module)] == []


def test_the_branch_check_sees_a_branch(tmp_path):
    module = REPO / "tests" / "_branch_probe.py"  # under the repository, as the scanned modules are
    try:
        module.write_text('if params.model.family == "gaia" or kind in ("ebgan", "began"):\n    pass\n')
        assert len(_names_compared(module)) == 2
    finally:
        module.unlink()


# ------------------------------------------------------------------------------ new pieces


def _merged(raw: dict, values: dict) -> dict:
    """``raw`` with ``values`` set, a nested dict's keys each (the rest of its section kept)."""
    return {**raw, **{k: _merged(raw[k], v) if isinstance(v, dict) and isinstance(raw.get(k), dict) else v
                      for k, v in values.items()}}


def _params(**sections) -> config.Params:
    raw = yaml.safe_load(TEST_PARAMS.read_text())
    raw["model"]["multiscale"].update(scales=2, width=0.05)
    raw["train"].update(steps=2, batch_size=4, device="cpu", workers=0, checkpoint_every=2, log_every=1, val_every=2,
                        image_every=2, val_batches=1)
    return parse_params(_merged(raw, sections))


@pytest.fixture
def module(tmp_path, monkeypatch):
    """Writes a module under a fresh name into a folder on the path; forgets it afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written = []

    def write(name: str, code: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(code))
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


def _forget(registry: Registry, name: str) -> None:
    registry._entries.pop(name, None)


def test_a_new_objective_is_its_module_plus_one_table_entry(data_dir, tmp_path, monkeypatch, module):
    name = module("throwaway_objective", '''
        from pyext.losses.adversarial import LogitObjective, register


        @register("throwaway")
        class Throwaway(LogitObjective):
            """Least absolute deviations from the targets 1 (real) and 0 (generated)."""

            threshold = 0.5

            def d_real(self, r):
                return (r - 1).abs()

            def d_fake(self, f):
                return f.abs()

            def g(self, f):
                return (f - 1).abs()
        ''')
    adversarial = {**yaml.safe_load(TEST_PARAMS.read_text())["loss"]["adversarial"], "kind": "throwaway"}
    monkeypatch.setitem(OBJECTIVES, "throwaway", Objective(name))
    try:
        params = _params(loss={"adversarial": adversarial})
        run = RunFiles(tmp_path / "run", tmp_path / "live")
        summary = train(params, DataFiles(data_dir), run, progress=False)
        assert summary["step"] == 2 and run.generator.exists()
        logged = yaml.safe_load(run.live_summary.read_text())["train"]
        assert 0 <= logged["d_accuracy"] <= 1 and logged["loss_d"] > 0
        assert ADVERSARIAL["throwaway"].__name__ == "Throwaway"
    finally:
        _forget(ADVERSARIAL, "throwaway")
    monkeypatch.delitem(OBJECTIVES, "throwaway")  # without its entry, the name is not an objective
    with pytest.raises(config.ParamsError, match="loss.adversarial.kind: expected one of bce, .*, got 'throwaway'"):
        _params(loss={"adversarial": adversarial})


TOY_FAMILY = '''
    """A toy predictor family: the last input frame plus a learned change (one convolution)."""
    import numpy as np
    import torch
    from torch import nn

    from pyext.evaluation import register_evaluation
    from pyext.evaluation.multiscale import evaluate_predictor
    from pyext.models import Predictor, register_family
    from pyext.training import TrainingStep, register_step, validation_psnr


    @register_family("toy")
    class Toy(Predictor):
        def __init__(self, input_frames=4, output_frames=1):
            super().__init__()
            self.input_frames, self.output_frames = input_frames, output_frames
            self.change = nn.Conv2d(3 * input_frames, 3 * output_frames, 3, padding=1)

        @classmethod
        def from_params(cls, params):
            return cls(params.clip.input_frames, params.clip.output_frames)

        def config(self):
            return {"input_frames": self.input_frames, "output_frames": self.output_frames}

        @property
        def size_multiple(self):
            return 1

        def forward(self, x, labels=None):
            last = x[:, -1:].expand(-1, self.output_frames, -1, -1, -1)
            return last + self.change(x.flatten(1, 2)).unflatten(1, (self.output_frames, 3))


    @register_step("toy")
    class ToyStep(TrainingStep):
        adversarial = False

        def __init__(self, params, device, **kwargs):
            torch.manual_seed(params.train.seed)
            self.m, self.device = params.clip.input_frames, device
            self.model = Toy.from_params(params).to(device)
            self.opt = torch.optim.SGD(self.model.parameters(), lr=params.train.lr_g)
            self.d_measures, self.nonfinite = [], torch.zeros((), dtype=torch.bool)

        @property
        def batches_per_step(self):
            return 1

        def step(self, step, batches, labels=None):
            x, y = batches[0][:, :self.m], batches[0][:, self.m:]
            loss = (self.model(x) - y).abs().mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            self.nonfinite |= ~torch.isfinite(loss.detach())
            return {"train/loss_g": loss.detach()}

        def validate(self, batches):
            return validation_psnr(self.model, batches, self.device)

        def baseline(self, batches):
            return validation_psnr(self.model, batches, self.device, last_frame=True)

        def pictures(self, batch):
            return {"predictions": np.zeros((4, 4, 3), np.uint8)}

        def state(self):
            return {"generator": self.model.state_dict(), "opt_g": self.opt.state_dict()}

        def load_state(self, saved):
            self.model.load_state_dict(saved["generator"])
            self.opt.load_state_dict(saved["opt_g"])


    register_evaluation("toy")(evaluate_predictor)  # a predictor: the predictors' evaluation
    '''


def test_a_new_model_family_is_its_module_plus_one_table_entry(data_dir, tmp_path, monkeypatch, module):
    from cases import moving_squares, write_clips

    name = module("toy_family", TOY_FAMILY)
    monkeypatch.setitem(FAMILIES, "toy", Family(model=name, step=name, evaluation=name, reads=("clip", "train"),
                                                patch=lambda p, patch: (True, "any side")))
    try:
        params = _params(model={"family": "toy"}, clip={"test_steps": 1})
        run = RunFiles(tmp_path / "run", tmp_path / "live")
        summary = train(params, DataFiles(data_dir), run, progress=False)
        assert summary["step"] == 2 and summary["val_psnr"] is not None
        model = load_generator(run.generator)
        assert model.family == "toy" and type(model).__name__ == "Toy"
        # Evaluated as the predictor it is, on full-frame test clips.
        write_clips(tmp_path / "data" / "test.h5", moving_squares(3, 5, seed=3))
        params = replace(params, evaluate=replace(params.evaluate, pictures=1))
        lines = evaluate_model(params, model, run.generator, DataFiles(tmp_path / "data"),
                               EvaluationFiles(tmp_path / "eval"), torch.device("cpu"), progress=False)
        assert lines[0].startswith("evaluate: 3 clips;") and (tmp_path / "eval" / "metrics.json").exists()
    finally:
        for registry in (MODELS, STEPS, EVALUATIONS):
            _forget(registry, "toy")


# ------------------------------------------------------------------ what a family's run reads


class _Recorder:
    """Params (or a section of them) that record the dotted key of every value read through them."""

    def __init__(self, value, seen: set[str], path: str = ""):
        self._value, self._seen, self._path = value, seen, path

    def __getattr__(self, name: str):
        value = getattr(self._value, name)
        dotted = f"{self._path}.{name}" if self._path else name
        if hasattr(value, "__dataclass_fields__"):
            return _Recorder(value, self._seen, dotted)
        self._seen.add(dotted)
        return value


# What a family's run needs beside model.family on the tests' params (and the classes of its data): IcGAN's cGAN,
# conditioned on a source whose classes one frame shows, its encoders from the second of the two updates.
_RUNS = {"icgan": ({"data": {"source": "stochastic"}, "model": {"condition": "concat", "icgan": {"encoder_from": 1}}},
                   3),
         # The translators learn from a domain B (the photo set); their batches hold each domain's clips.
         **{family: ({"data": {"translate": {"source": "photos"}}}, 0) for family in ("cyclegan", "discogan", "dualgan")}}


@pytest.mark.parametrize("family", list(config.FAMILIES))
def test_a_familys_run_reads_only_what_its_entry_says(family, data_dir):
    # The checkpoint's identity hashes the params the family reads: a key read but not listed could
    # change the run and leave the checkpoint valid.
    from pyext.data.dataset import ClipDataset
    from pyext.training import make_step
    from pyext.training.validation import validation_batches

    needs, classes = _RUNS.get(family, ({}, 0))
    params, seen = _params(**_merged({"model": {"family": family}}, needs)), set()
    step = make_step(_Recorder(params, seen), torch.device("cpu"), classes=classes)
    clips = torch.stack([ClipDataset(data_dir / "train.h5")[i] for i in range(4)])
    if config.FAMILIES[family].domains:  # domain A's clips, then domain B's
        clips = torch.cat([clips, clips.flip(0)])
    for update in range(params.train.steps):  # IcGAN's: its cGAN's update, then its encoders'
        step.step(update, [clips] * step.batches_per_step, [torch.zeros(4, dtype=torch.long)] * step.batches_per_step)
    batches = validation_batches(data_dir / "val.h5", 4, 1)
    step.validate(batches), step.baseline(batches), step.pictures(batches[0])
    reads = (*config.FAMILIES[family].reads, "model.family", *(f"train.{k}" for k in config.OPERATIONAL))
    unlisted = sorted(key for key in seen if not any(key == r or key.startswith(f"{r}.") for r in reads))
    assert seen and unlisted == [], f"{family} reads {unlisted} beyond its entry's reads"


def test_editing_a_key_only_another_family_reads_keeps_a_runs_identity():
    from pyext.training import params_hash

    def edited(params, section, **values):
        *outer, last = section.split(".")
        holder = params
        for name in outer:
            holder = getattr(holder, name)
        changed = replace(getattr(holder, last), **values)
        if outer:  # one level down: model.gaia
            return replace(params, **{outer[0]: replace(getattr(params, outer[0]), **{last: changed})})
        return replace(params, **{last: changed})

    predictor, gaia = _params(), _params(model={"family": "gaia"})
    assert params_hash(edited(predictor, "model.gaia", latent=3)) == params_hash(predictor)
    assert params_hash(edited(predictor, "model.multiscale", width=0.5)) != params_hash(predictor)
    assert params_hash(edited(gaia, "train", lr_g=0.5, optimizer="adam")) == params_hash(gaia)
    assert params_hash(edited(gaia, "model.multiscale", width=0.5)) == params_hash(gaia)
    assert params_hash(edited(gaia, "model.gaia", latent=3)) != params_hash(gaia)
    assert params_hash(edited(gaia, "train", log_every=7)) == params_hash(gaia)  # operational
