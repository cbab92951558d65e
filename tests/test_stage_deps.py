"""dvc.yaml lists every project file a stage runs: each stage, run on tiny params, loads only files
its deps cover, so that editing one reruns the stage. The code digest of a stage (what a training
checkpoint records) follows exactly those deps."""
from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pyext.config import OBJECTIVES, GENERATED_SOURCES, FAMILIES
from pyext.files import code_digest, paths_digest, stage_code_deps
from cases import TEST_PARAMS

REPO = Path(__file__).resolve().parents[1]
STAGES = ("prepare", "extract", "filter", "val_frames", "finetune_data", "train", "finetune", "evaluate")
# pyext._C, built from csrc/ by setup.py. The tests' library, pyext/_C_testing*.so, is covered by no
# stage's deps: a stage that loaded it would fail here.
NATIVE = "pyext/_C.*.so"
MARK = "LOADED-PROJECT-FILES "

# Runs a stage's module as `python -m` does, then prints the project files it loaded: the stage script
# and every module under the repository root.
PROBE = f"""
import importlib.util, json, runpy, sys
from pathlib import Path
root, module = Path(sys.argv[1]).resolve(), sys.argv[2]
sys.argv = [module]
files = {{importlib.util.find_spec(module).origin}}
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
finally:
    files |= {{getattr(m, "__file__", None) or "" for m in list(sys.modules.values())}}
    paths = [Path(f).resolve() for f in files if f]
    # The interpreter's own files are not the project's, even in a venv inside the repository.
    env = {{Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}}
    env = [e for e in env if not root.is_relative_to(e)]
    ours = [p for p in paths if p.is_relative_to(root) and not any(p.is_relative_to(e) for e in env)]
    print({MARK!r} + json.dumps(sorted(p.relative_to(root).as_posix() for p in ours)))
"""


def _tiny_params(source: str) -> dict:
    raw = yaml.safe_load(TEST_PARAMS.read_text())
    raw["data"]["source"] = source
    raw[source].update(classes=2, groups=3, test_groups=1, clips_per_group=1, frames=12)
    raw["extract"]["workers"] = 1  # decoded in the stage's own process, where the probe looks
    raw["filter"]["val_fraction"] = 0.5
    raw["model"]["multiscale"].update(scales=2, width=0.05)
    raw["train"].update(steps=2, batch_size=2, device="cpu", workers=0, checkpoint_every=2, log_every=1,
                        val_every=2, image_every=2, val_batches=1)
    raw["evaluate"]["pictures"] = 1
    raw["finetune"].update(patch=2 * raw["clip"]["patch"], steps=2)  # the fine-tuning stages run whole
    return raw


def _run_stage(project: Path, stage: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", PROBE, str(REPO), f"pipeline.{stage}"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{stage} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    line = [x for x in done.stdout.splitlines() if x.startswith(MARK)][-1]
    return set(json.loads(line[len(MARK):]))


# The families the demo set's params refuse, each trained on a source it takes with its own settings: IcGAN's cGAN
# learns classes one frame shows (its encoders from the second of the two updates).
# Per family: the source, model's keys and the family's section's keys.
ELSEWHERE = {"icgan": ("stochastic", {"condition": "concat"}, {"encoder_from": 1})}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> dict[str, set[str]]:
    """The project files each stage loads: the whole pipeline on a tiny demo set, then train again
    with every other adversarial objective and model family (a registry may load its modules only
    when asked for one; those of :data:`ELSEWHERE` on their own sources), plus prepare on every
    other generated source (each loads its own generator)."""
    files: dict[str, set[str]] = {stage: set() for stage in STAGES}
    for source in ("demo", *(s for s in GENERATED_SOURCES if s != "demo")):
        project = tmp_path_factory.mktemp(source)
        raw = _tiny_params(source)
        (project / "params.yaml").write_text(yaml.safe_dump(raw))
        for stage in STAGES if source == "demo" else ("prepare",):
            files[stage] |= _run_stage(project, stage)
        for family in (f for f, (home, _, _) in ELSEWHERE.items() if home == source):
            _, model, section = ELSEWHERE[family]
            raw["model"].update(family=family, **model)
            raw["model"][family].update(section)
            raw["finetune"]["patch"] = 0
            (project / "params.yaml").write_text(yaml.safe_dump(raw))
            for stage in ("extract", "filter", "train"):
                files[stage] |= _run_stage(project, stage)
        if source != "demo":
            continue
        shipped = (raw["loss"]["adversarial"]["kind"], raw["model"]["family"])
        for kind, family in [(k, shipped[1]) for k in OBJECTIVES] + [(shipped[0], f) for f in FAMILIES]:
            if (kind, family) != shipped and family not in ELSEWHERE and not FAMILIES[family].domains:
                raw["loss"]["adversarial"]["kind"], raw["model"]["family"] = kind, family
                raw["finetune"]["patch"] = raw["finetune"]["patch"] if family == "multiscale" else 0
                (project / "params.yaml").write_text(yaml.safe_dump(raw))
                files["train"] |= _run_stage(project, "train")
    # The translators, from the demo set to the photo set: every stage of theirs reads both domains.
    project = tmp_path_factory.mktemp("translation")
    raw = _tiny_params("demo")
    raw["photos"].update(classes=2, groups=3, test_groups=1, clips_per_group=1, frames=12)
    raw["data"]["translate"]["source"] = "photos"
    raw["finetune"]["patch"] = 0
    # One translator per set of modules (model, step, evaluation) the registries import: the three share theirs.
    modules = {(facts.model, facts.step, facts.evaluation): f for f, facts in FAMILIES.items() if facts.domains}
    for i, family in enumerate(modules.values()):
        raw["model"]["family"] = family
        raw["loss"]["adversarial"]["kind"] = "bce"
        (project / "params.yaml").write_text(yaml.safe_dump(raw))
        for stage in ("prepare", "extract", "filter", "train", "evaluate") if not i else ("train", "evaluate"):
            files[stage] |= _run_stage(project, stage)
    return files


def _deps(stage: str) -> set[str]:
    return set(stage_code_deps(REPO / "dvc.yaml", stage))


def _covered(path: str, deps: set[str]) -> bool:
    if fnmatch.fnmatch(path, NATIVE):
        return {"csrc", "setup.py"} <= deps
    return path in deps or any(path.startswith(f"{dep}/") for dep in deps if (REPO / dep).is_dir())


@pytest.mark.parametrize("stage", STAGES)
def test_deps_cover_every_project_file_the_stage_loads(loaded, stage):
    files = loaded[stage]
    assert f"pipeline/{stage}.py" in files and "pyext/config/__init__.py" in files  # the probe saw the stage run
    missing = sorted(f for f in files if not _covered(f, _deps(stage)))
    assert not missing, f"dvc.yaml: stage {stage} runs these files but does not list them in its deps: {missing}"


def test_the_ops_stages_load_the_native_extension(loaded):
    # Where the extension is built, the stages that run the ops load it, and csrc/ and setup.py cover it.
    if not list((REPO / "pyext").glob("_C.*.so")):
        pytest.skip("the native extension is not built")
    for stage in ("train", "finetune", "evaluate"):
        assert any(fnmatch.fnmatch(f, NATIVE) for f in loaded[stage]), stage
        assert {"csrc", "setup.py"} <= _deps(stage)


def test_pipeline_holds_the_scripts_dvc_yaml_runs():
    # ... and the one-line aliases of the commands that moved to `beyondmse` (pyext.cli).
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    run = {stage["cmd"].split()[2].removeprefix("pipeline.") for stage in stages.values()}
    assert run == set(STAGES)
    modules = {p.stem for p in (REPO / "pipeline").glob("*.py")} - {"__init__"}
    for alias in modules - run:
        code = [line for line in (REPO / "pipeline" / f"{alias}.py").read_text().splitlines()
                if line and not line.startswith(('"""', "#"))]
        assert code == ["from pyext.cli import alias", f'alias("{alias}")'], alias


def test_every_code_dep_exists():
    for stage in STAGES:
        absent = [dep for dep in _deps(stage) if not (REPO / dep).exists()]
        assert not absent, f"dvc.yaml: stage {stage} lists missing deps {absent}"


def test_stage_code_deps_leave_out_the_data():
    deps = stage_code_deps(REPO / "dvc.yaml", "train")
    assert {"csrc", "setup.py", "pipeline/train.py", "pyext/training", "pyext/models", "pyext/losses"} <= set(deps)
    assert not [d for d in deps if d.startswith(("data", "models"))]
    assert deps == sorted(deps)
    assert "models/generator.pt" not in stage_code_deps(REPO / "dvc.yaml", "evaluate")
    with pytest.raises(KeyError, match="no stage 'nope'"):
        stage_code_deps(REPO / "dvc.yaml", "nope")


def test_code_digest_follows_the_stages_code_deps(tmp_path):
    # A copy of the project's code (the train stage's deps), with its dvc.yaml and training data.
    for dep in stage_code_deps(REPO / "dvc.yaml", "train"):
        copy = shutil.copytree if (REPO / dep).is_dir() else shutil.copy
        (tmp_path / dep).parent.mkdir(parents=True, exist_ok=True)
        copy(REPO / dep, tmp_path / dep)
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.h5").write_bytes(b"clips")
    before = code_digest(tmp_path, "train")
    assert code_digest(REPO, "train") == before  # where the files live does not matter

    # Not code: the training data, a file outside the deps, Python's caches.
    (tmp_path / "data" / "train.h5").write_bytes(b"other clips")
    (tmp_path / "pyext" / "presets.py").write_text("# not run by train\n")
    (tmp_path / "csrc" / "__pycache__").mkdir()
    (tmp_path / "csrc" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert code_digest(tmp_path, "train") == before

    # Code: a listed file's contents, a file added under a listed folder, a listed file removed.
    losses = tmp_path / "pyext" / "losses" / "generator.py"
    text = losses.read_text()
    losses.write_text(text + "# edited\n")
    edited = code_digest(tmp_path, "train")
    assert edited != before
    losses.write_text(text)
    assert code_digest(tmp_path, "train") == before
    (tmp_path / "csrc" / "gdl" / "extra.h").write_text("// new\n")
    assert code_digest(tmp_path, "train") not in (before, edited)
    (tmp_path / "csrc" / "gdl" / "extra.h").unlink()
    (tmp_path / "setup.py").unlink()
    assert code_digest(tmp_path, "train") != before

    # The order of the paths does not matter; their names do.
    generator = "pyext/losses/generator.py"
    assert paths_digest(tmp_path, [generator, "csrc"]) == paths_digest(tmp_path, ["csrc/", generator])
    shutil.copy(losses, tmp_path / "renamed.py")
    assert paths_digest(tmp_path, ["renamed.py"]) != paths_digest(tmp_path, [generator])
