"""experiments.runner.main: the command line the zoo and Table 2 share runs the rows asked for, then
records every existing experiment of the study, the settings and the study's own options."""
import pytest

from experiments import runner, table2, zoo
from experiments.runner import Row, Study

ROWS = [Row("a", ("x=1",)), Row("b", ("x=2",)), Row("c", ("x=3",))]


def _study() -> Study:
    return Study(name="toy", description="A toy study.", rows=lambda args: ROWS,
                 collect=lambda row, ref: {"figure": len(row.name), "option": None},
                 document=lambda record: "the document", label=lambda result: result["row"],
                 options=(("--base", {"action": "append", "default": []}),))


@pytest.fixture
def experiments(monkeypatch):
    """Experiments ``toy-a`` and ``toy-c`` exist; running rows and writing files are recorded."""
    calls = {"run": [], "write": []}
    monkeypatch.setattr(runner, "experiment_ref", lambda prefix, name: f"refs/exps/{prefix}{name}"
                        if name in ("a", "c") else None)
    monkeypatch.setattr(runner, "run_rows", lambda prefix, logs, rows, extra, command:
                        calls["run"].append((prefix, logs, [r.name for r in rows], extra, command)))
    monkeypatch.setattr(runner, "write", lambda study, record: calls["write"].append(record) or "")
    monkeypatch.setattr(runner, "machine", lambda: "a machine")
    return calls


def test_main_runs_the_rows_asked_for_then_records_every_existing_experiment(experiments):
    runner.main(_study(), ["--only", "b,a", "--set", "train.steps=5", "--base", "p.yaml"])
    assert experiments["run"] == [("toy-", runner.LOGS / "toy", ["a", "b"], ["train.steps=5"], "toy")]
    (record,) = experiments["write"]
    assert record["machine"] == "a machine" and len(record["commit"]) == 40
    assert record["set"] == ["train.steps=5"] and record["base"] == ["p.yaml"]
    assert record["results"] == [
        {"row": "a", "settings": ["x=1"], "ref": "refs/exps/toy-a", "figure": 1, "option": None},
        {"row": "c", "settings": ["x=3"], "ref": "refs/exps/toy-c", "figure": 1, "option": None}]


def test_collect_runs_nothing(experiments):
    runner.main(_study(), ["--collect"])
    assert experiments["run"] == [] and len(experiments["write"]) == 1


def test_errors_name_the_command_it_was_given(experiments, capsys):
    with pytest.raises(SystemExit):
        runner.main(_study(), ["--only", "a,nope"], prog="beyondmse toy")
    assert "beyondmse toy: error: --only: unknown rows nope (known: a, b, c)" in capsys.readouterr().err
    assert experiments["run"] == []


def test_no_experiment_is_a_one_line_exit(experiments, monkeypatch):
    monkeypatch.setattr(runner, "experiment_ref", lambda prefix, name: None)
    with pytest.raises(SystemExit, match="^toy: no toy experiments to tabulate$"):
        runner.main(_study(), ["--collect"])


@pytest.mark.parametrize("module", [zoo, table2])
def test_each_study_takes_its_arguments_and_name(module, capsys):
    with pytest.raises(SystemExit) as exit_:
        module.main(["--help"], prog=f"beyondmse {module.STUDY.name}")
    assert exit_.value.code == 0
    usage = capsys.readouterr().out
    assert usage.startswith(f"usage: beyondmse {module.STUDY.name} [-h] [--only ONLY]")
    assert ("--base PRESET" in usage) == (module is table2)
