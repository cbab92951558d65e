"""The pipeline's file layout is named once (pyext.files.Layout): dvc.yaml declares exactly the
outputs it names, and no module of the package or stage script spells an output's file name."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from pyext.config import GENERATED_SOURCES
from pyext.files import DataFiles, EvaluationFiles, Layout, RunFiles

REPO = Path(__file__).resolve().parents[1]
LAYOUT = Layout(Path("."))


def _declared_outputs() -> set[str]:
    """Every path dvc.yaml's stages write: outs, metrics, plots."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    paths = set()
    for stage in stages.values():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind) or ():
                paths |= {entry} if isinstance(entry, str) else set(entry)
    return {p.rstrip("/") for p in paths}


def _files(files) -> dict[str, Path]:
    """A file set's paths by property name."""
    return {name: getattr(files, name) for name, value in vars(type(files)).items() if isinstance(value, property)}


def test_dvc_yaml_declares_the_layouts_outputs():
    data, train, tuned, evaluation = LAYOUT.data, LAYOUT.train, LAYOUT.finetune, LAYOUT.evaluation
    named = {data.manifest, data.patches, data.test, data.extract_report, data.train, data.val, data.filter_report,
             data.val_frames,
             LAYOUT.finetune_data.folder, train.checkpoint, train.generator, train.live_summary, train.live_metrics,
             train.live_images, train.validation_table, tuned.folder, evaluation.metrics, evaluation.predictions,
             evaluation.steps, evaluation.clips, evaluation.pictures, *(LAYOUT.generated(s) for s in GENERATED_SOURCES)}
    assert {p.as_posix() for p in named} == _declared_outputs()


def _output_names() -> set[str]:
    """The file names of every output the layout names (a name with a suffix)."""
    sets = [DataFiles(Path("d")), RunFiles(Path("m"), Path("l")), EvaluationFiles(Path("e"))]
    names = {path.name for files in sets for path in _files(files).values() if path.suffix}
    assert {"train.h5", "generator.pt", "metrics.json", "report.json", "validation.csv"} <= names
    return names


def _literals(path: Path) -> list[str]:
    """The string constants of a module, its docstrings left out (they may say where a file is)."""
    tree = ast.parse(path.read_text())
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs]


def test_each_output_name_is_spelled_in_the_layout_alone():
    patterns = {name: re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)") for name in _output_names()}
    spelled: dict[str, set[str]] = {name: set() for name in patterns}
    for module in [*(REPO / "pyext").rglob("*.py"), *(REPO / "pipeline").glob("*.py")]:
        for text in _literals(module):
            for name, pattern in patterns.items():
                if pattern.search(text):
                    spelled[name].add(module.relative_to(REPO).as_posix())
    assert {name: where for name, where in spelled.items() if where != {"pyext/files.py"}} == {}


def test_the_check_finds_a_spelled_name(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('"""Writes data/train.h5."""\nPATH = "data/" + "train.h5"\n')
    assert _literals(module) == ["data/", "train.h5"]
