"""experiments.runner.main: the command line the zoo and Table 2 share runs the rows asked for, then
records every existing experiment of the study, the commit and data they ran on, the settings and
the study's own options."""
from dataclasses import replace

import numpy as np
import pytest
import yaml

from experiments import claim, editing, generation, inversion, runner, table2, translation, zoo
from experiments.runner import Row, Study

ROWS = [Row("a", ("x=1",)), Row("b", ("x=2",)), Row("c", ("x=3",))]
DATA = {"data/train.h5": "11", "data/val.h5": "22", "data/test.h5": "33"}


def _lock(data: dict[str, str]) -> str:
    """A dvc.lock whose stages write ``data`` (path: md5), and a store the record leaves out."""
    outs = [{"path": path, "md5": md5} for path, md5 in data.items()]
    return yaml.safe_dump({"schema": "2.0", "stages": {"extract": {"outs": [{"path": "data/patches.h5", "md5": "0"}]},
                                                       "filter": {"outs": outs}}})


def _study() -> Study:
    return Study(name="toy", description="A toy study.", rows=lambda args: ROWS,
                 collect=lambda row, ref: {"figure": len(row.name), "option": None},
                 document=lambda record: "the document", label=lambda result: result["row"],
                 options=(("--base", {"action": "append", "default": []}),))


@pytest.fixture
def experiments(monkeypatch):
    """Experiments ``toy-a`` and ``toy-c`` exist; running rows and writing files are recorded."""
    calls = {"run": [], "write": []}
    locks = {"refs/exps/toy-a": _lock(DATA), "refs/exps/toy-c": _lock({**DATA, "data/finetune/train.h5": "44"})}
    monkeypatch.setattr(runner, "show", lambda ref, path: locks[ref] if path == "dvc.lock" else "data: {source: demo}")
    monkeypatch.setattr(runner, "experiment_ref", lambda prefix, name: f"refs/exps/{prefix}{name}"
                        if name in ("a", "c") else None)
    monkeypatch.setattr(runner, "run_rows", lambda prefix, logs, rows, extra, command, before=None:
                        calls["run"].append((prefix, logs, [r.name for r in rows], extra, command)))
    monkeypatch.setattr(runner, "write", lambda study, record, out: calls["write"].append((out, record)) or ("", []))
    monkeypatch.setattr(runner, "machine", lambda: "a machine")
    return calls


def test_main_runs_the_rows_asked_for_then_records_every_existing_experiment(experiments):
    runner.main(_study(), ["--only", "b,a", "--set", "train.steps=5", "--base", "p.yaml"])
    assert experiments["run"] == [("toy-", runner.LOGS / "toy", ["a", "b"], ["train.steps=5"], "toy")]
    ((out, record),) = experiments["write"]
    assert out == runner.RESULTS / "toy"
    assert record["machine"] == "a machine" and len(record["commit"]) == 40
    assert record["set"] == ["train.steps=5"] and record["base"] == ["p.yaml"]
    assert record["data"] == {"source": "demo", "md5": DATA, "from": "the experiments' dvc.lock"}
    assert record["results"] == [
        {"row": "a", "settings": ["x=1"], "ref": "refs/exps/toy-a", "figure": 1, "option": None, "data": DATA},
        {"row": "c", "settings": ["x=3"], "ref": "refs/exps/toy-c", "figure": 1, "option": None,
         "data": {**DATA, "data/finetune/train.h5": "44"}}]


def test_rows_on_other_data_leave_the_record_without_one_digest(experiments):
    results = [{"ref": "r", "data": DATA}, {"ref": "r", "data": {**DATA, "data/test.h5": "34"}}]
    assert runner.data_record(results) == {"source": "demo", "md5": None,
                                           "reason": "the rows ran on different data: each row's data says which"}


def test_collect_runs_nothing(experiments):
    runner.main(_study(), ["--collect"])
    assert experiments["run"] == [] and len(experiments["write"]) == 1


def test_collect_only_tabulates_those_rows_where_asked(experiments, tmp_path):
    """One run's subset (the README's option rows) gets its own record, of those rows alone."""
    runner.main(_study(), ["--collect", "--only", "c,b", "--out", str(tmp_path / "subset")])
    ((out, record),) = experiments["write"]
    assert out == tmp_path / "subset" and experiments["run"] == []
    assert [r["row"] for r in record["results"]] == ["c"]


@pytest.mark.parametrize("clip", [b"GIF89a", None])
def test_a_study_s_animation_is_written_beside_its_picture_where_it_gives_one(tmp_path, clip):
    study = replace(_study(), picture=lambda record: np.zeros((4, 6, 3), np.uint8), animation=lambda record: clip)
    text, written = runner.write(study, {"results": []}, tmp_path)
    names = ["toy.md", "toy.json", "toy.png"] + ["toy.gif"] * (clip is not None)
    assert text == "the document" and [p.name for p in written] == names
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    if clip is not None:
        assert (tmp_path / "toy.gif").read_bytes() == clip


def test_errors_name_the_command_it_was_given(experiments, capsys):
    with pytest.raises(SystemExit):
        runner.main(_study(), ["--only", "a,nope"], prog="beyondmse toy")
    assert "beyondmse toy: error: --only: unknown rows nope (known: a, b, c)" in capsys.readouterr().err
    assert experiments["run"] == []


def test_no_experiment_is_a_one_line_exit(experiments, monkeypatch):
    monkeypatch.setattr(runner, "experiment_ref", lambda prefix, name: None)
    with pytest.raises(SystemExit, match="^toy: no toy experiments to tabulate$"):
        runner.main(_study(), ["--collect"])


@pytest.mark.parametrize("module", [zoo, table2, claim, generation, inversion, editing, translation])
def test_each_study_takes_its_arguments_and_name(module, capsys):
    with pytest.raises(SystemExit) as exit_:
        module.main(["--help"], prog=f"beyondmse {module.STUDY.name}")
    assert exit_.value.code == 0
    usage = capsys.readouterr().out
    assert usage.startswith(f"usage: beyondmse {module.STUDY.name} [-h] [--only ONLY]")
    assert ("--base PRESET" in usage) == (module is table2)


def test_pyext_never_imports_the_experiments():
    """The floors: experiments import pyext, never the reverse (pyext installs without them)."""
    import ast

    from cases import REPO

    for path in (REPO / "pyext").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "experiments" or n.startswith("experiments.") for n in names), path


def _test_store(path, futures: bool):
    """Two translating-square clips of 6 frames (64x80), with two recorded futures each or none."""
    import numpy as np

    from pyext.data.store import ClipWriter

    rng = np.random.default_rng(0)
    background = rng.integers(0, 100, (64, 80, 3)).astype(np.uint8)
    clips = []
    for s in range(2):
        clip = np.repeat(background[None], 6, axis=0)
        for t in range(6):
            clip[t, 20:36, 10 + 4 * t + s:26 + 4 * t + s] = 220
        clips.append(clip)
    rows = {"motion": np.zeros(1, np.float32), "start": np.zeros(1, np.int32), "yx": np.zeros((1, 2), np.int16),
            "label": np.zeros(1, np.int16)}
    with ClipWriter(path, (6, None, None, 3), ["v0.avi", "v1.avi"], {"params": {}}) as w:
        for i, clip in enumerate(clips):
            recorded = np.stack([clip[4:], np.roll(clip[4:], 8, axis=1)])[None] if futures else None
            w.append(clip[None], recorded, video=np.array([i], np.int32), **rows)
    return clips


@pytest.mark.parametrize("futures", [False, True])
def test_the_picture_shows_every_run_and_the_recorded_futures(tmp_path, monkeypatch, futures):
    import io

    import numpy as np

    clips = _test_store(tmp_path / "test.h5", futures)
    stored = ([c[4:6] for c in clips], np.arange(2), np.zeros((2, 2), np.int64))
    monkeypatch.setattr(runner, "predictions", lambda ref: stored)
    monkeypatch.setattr(runner, "read_output", lambda ref, path: io.BytesIO((tmp_path / "test.h5").read_bytes()))
    image = runner.picture([("a", "ref-a"), ("b", "ref-b")], 4, 1.0, per_row=4, crop=32, zoom=1)
    cell = 22 + 32  # a label, then the crop
    # truth, last frame, a, b: one line of four; with two futures after the truth, two lines.
    assert image.shape[0] == (2 * cell + 12 if futures else cell)
    assert image.shape[1] == 4 * (2 * 32 + 4) + 3 * 12


def test_every_study_row_trains_from_random_weights_unless_it_says_otherwise(tmp_path):
    # params.yaml starts from the shipped pretrained predictor; the studies' rows compare objectives and
    # options from random weights (and some change the generator's architecture). DVC's own parser
    # reads the pinned setting as an empty train.init.
    from dvc.utils.hydra import apply_overrides

    from cases import REPO
    from pyext.config import load_params

    assert load_params(REPO / "params.yaml").train.init.endswith("generator.pt")  # the shipped default
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    row = Row("hinge", ("loss.adversarial.kind=hinge",))
    apply_overrides(params, list(runner.row_settings(row, ["train.steps=5"])))
    assert load_params(params).train.init == "" and load_params(params).train.steps == 5
    own = Row("tuned", ("train.init=models/g.pt",))
    assert runner.row_settings(own, []) == ("train.init=models/g.pt",)
    assert runner.row_settings(row, ["train.init=pretrained"]) == ("loss.adversarial.kind=hinge", "train.init=pretrained")


def _loaded(rows: list[Row], folder) -> dict:
    """Each row's params, as DVC applies its settings to the shipped params.yaml (a copy in ``folder``)."""
    from dvc.utils.hydra import apply_overrides

    from cases import REPO
    from pyext.config import load_params

    loaded = {}
    for row in rows:
        params = folder / f"{row.name}.yaml"
        params.write_text((REPO / "params.yaml").read_text())
        apply_overrides(params, list(runner.row_settings(row, [])))
        loaded[row.name] = load_params(params)
    return loaded


def test_every_generation_row_is_a_valid_run_of_its_family_and_the_refused_objectives_are_left_out(tmp_path):
    """Each row's settings, as DVC applies them to params.yaml, load; the objectives the families refuse
    (an autoencoder's discriminator) are not rows, and would be refused."""
    from dvc.utils.hydra import apply_overrides

    from cases import REPO
    from pyext.config import ParamsError, load_params

    rows = generation.rows(str(REPO / "params.yaml"))
    assert [r.name for r in rows] == ["bce", "minimax", "lsgan", "hinge", "fgan", "wgan", "wgan_gp", "bce-seed1",
                                      "lapgan", "vaegan", "biggan", "gran"]
    loaded = _loaded(rows, tmp_path)
    assert {name: p.model.family for name, p in loaded.items()} == {
        **{r.name: "dcgan" for r in rows[:8]}, "lapgan": "lapgan", "vaegan": "vaegan", "biggan": "biggan", "gran": "gran"}
    biggan = loaded["biggan"].loss.adversarial
    assert (biggan.kind, biggan.d_steps) == ("hinge", 2)  # the paper's, from its preset
    assert len({p.train.steps for p in loaded.values()}) == 1  # the same budget a row
    wgan, gp = loaded["wgan"].model.dcgan, loaded["wgan_gp"].model.dcgan
    assert (wgan.optimizer, wgan.lr_g, wgan.lr_d) == ("rmsprop", 5e-5, 5e-5)
    assert (gp.optimizer, gp.lr_g, list(gp.betas)) == ("adam", 1e-4, [0.0, 0.9])
    assert loaded["bce-seed1"].train.seed == loaded["bce"].train.seed + 1
    params = tmp_path / "ebgan.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    apply_overrides(params, [*rows[0].settings, "loss.adversarial.kind=ebgan"])
    with pytest.raises(ParamsError, match="loss.adversarial.kind"):
        load_params(params)


def test_the_generation_table_gives_the_references_and_each_family_untrained_once():
    def metrics(family, fid):
        names = ("generator", "untrained", "blurred", "noisy")
        return {"family": family, "step": 10, "samples": 300, "references": {"blurred": {}, "noisy": {}},
                "fid": dict(zip(names, (fid, 90.0, 3.0, 8.0))), "kid": {n: {"mean": 0.5} for n in names},
                **{m: {n: 0.25 for n in names} for m in ("precision", "recall", "density", "coverage")},
                "feature_extractor": {"extractor_file": "features.pt", "pr_neighbours": 3, "dc_neighbours": 5}}
    results = [{"row": "bce", "metrics": metrics("dcgan", 12.0), "d_measures": {"d_accuracy": 0.75}, "train_seconds": 60},
               {"row": "hinge", "metrics": metrics("dcgan", 15.0), "d_measures": {}, "train_seconds": 61},
               {"row": "lapgan", "metrics": metrics("lapgan", 29.0), "d_measures": {}, "train_seconds": 300}]
    lines = generation.document({"machine": "a machine", "results": results}).splitlines()
    body = [line for line in lines if line.startswith("| ") and not line.startswith("| run")]
    assert [line.split(" | ")[0] for line in body] == ["| real, blurred", "| real, noisy", "| untrained dcgan",
                                                       "| untrained lapgan", "| `bce` (dcgan)", "| `hinge` (dcgan)",
                                                       "| `lapgan` (lapgan)"]
    assert body[0].split(" | ")[1] == "3.00" and body[2].split(" | ")[1] == "90.00" and body[4].split(" | ")[1] == "12.00"
    assert body[4].endswith("| d_accuracy 0.750 | 60 |")


def test_the_inversion_rows_invert_each_layer_with_deepsims_terms_and_with_the_image_term_alone(tmp_path):
    from cases import REPO
    from pyext.config import load_params

    rows = inversion.rows(str(REPO / "params.yaml")) + editing.rows(str(REPO / "params.yaml"))
    assert [r.name for r in rows] == ["deepsim-l3", "pixel-l3", "deepsim-l5", "pixel-l5", "icgan"]
    loaded = _loaded(rows, tmp_path)
    terms = {name: (p.model.family, p.model.inversion.layer, p.model.inversion.feature_weight,
                    p.model.inversion.adversarial_weight, p.model.inversion.image_weight)
             for name, p in loaded.items() if name != "icgan"}
    shipped = load_params(REPO / "params.yaml").model.inversion
    assert terms == {f"deepsim-l{n}": ("inversion", n, shipped.feature_weight, shipped.adversarial_weight, 1.0)
                     for n in (3, 5)} | {f"pixel-l{n}": ("inversion", n, 0.0, 0.0, 1.0) for n in (3, 5)}
    assert (loaded["icgan"].model.family, loaded["icgan"].data.source) == ("icgan", "stochastic")


def test_the_inversion_table_gives_each_layers_untrained_inverter_once_and_each_rows_loss():
    def metrics(layer, psnr, weights):
        names = ("generator", "untrained")
        return {"family": "inversion", "step": 10, "samples": 300, "weights": weights,
                "network": {"file": "/x/inverted.pt", "layer": layer, "comparator_layer": 4},
                "inversion": {"generator": {"psnr": psnr, "gradient_ratio": 0.5}, "untrained": {"psnr": 9.0,
                                                                                              "gradient_ratio": 2.0}},
                "references": {"blurred": {}}, "fid": dict(zip(names, (20.0, 90.0))) | {"blurred": 3.0},
                "kid": {n: {"mean": 0.5} for n in (*names, "blurred")},
                **{m: {n: 0.25 for n in (*names, "blurred")} for m in ("precision", "recall")}}
    deepsim, pixel = {"feature": 1.0, "adversarial": 0.01, "image": 1.0}, {"feature": 0.0, "adversarial": 0.0, "image": 1.0}
    results = [{"row": f"{name}-l{layer}", "metrics": metrics(layer, psnr, w), "train_seconds": 60}
               for layer in (3, 5) for name, w, psnr in (("deepsim", deepsim, 20.0), ("pixel", pixel, 22.0))]
    lines = inversion.document({"machine": "a machine", "results": results}).splitlines()
    assert "inverted from the layers of inverted.pt (comparator layer 4)" in lines[0]
    body = [line.split(" | ") for line in lines if line.startswith("| ") and not line.startswith("| run")]
    assert [(b[0], b[1], b[2]) for b in body] == [
        ("| real, blurred", "-", "-"), ("| untrained", "3", "-"), ("| `deepsim-l3`", "3", "1 feature + 0.01 adversarial + 1 image"),
        ("| `pixel-l3`", "3", "1 image"), ("| untrained", "5", "-"),
        ("| `deepsim-l5`", "5", "1 feature + 0.01 adversarial + 1 image"), ("| `pixel-l5`", "5", "1 image")]
    assert body[0][3:6] == ["-", "-", "3.00"]
    assert body[1][3:6] == ["9.00", "2.000", "90.00"] and body[3][3:6] == ["22.00", "0.500", "20.00"]
    assert lines[-1] == ("Layer 5: DeePSiM against the image loss alone, PSNR 20.00 against 22.00 dB, gradient-energy "
                         "ratio 0.500 against 0.500, FID 20.00 against 20.00.")


def test_a_battles_run_keeps_the_experiments_params_and_takes_todays_for_keys_added_since():
    from experiments.battle import _merged

    today = {"model": {"family": "multiscale", "dcgan": {"width": 0.5}, "gran": {"steps": 3}},
             "evaluate": {"truncation": [1.0]}}
    then = {"model": {"family": "dcgan", "dcgan": {"width": 0.25}}, "evaluate": {}, "old": 1}
    assert _merged(today, then) == {"model": {"family": "dcgan", "dcgan": {"width": 0.25}, "gran": {"steps": 3}},
                                    "evaluate": {"truncation": [1.0]}, "old": 1}


def test_the_translation_rows_translate_demo_to_photos_and_test_both_predictors_on_photos(tmp_path):
    from dataclasses import replace as replaced

    from cases import REPO

    rows = translation.rows(str(REPO / "params.yaml"))
    predictors = [f"predictor-{data}-seed{seed}" for data in ("demo", "translated") for seed in (0, 1)]
    assert [r.name for r in rows] == ["cyclegan", "discogan", "dualgan", *predictors]
    # The translated videos' folder is made before that row runs; here, a folder of the test's.
    root = f"data.root={translation.TRANSLATED.resolve()}"
    assert all(root in r.settings for r in rows[-2:])
    rows[-2:] = [replaced(r, settings=tuple(f"data.root={tmp_path}" if s == root else s for s in r.settings))
                 for r in rows[-2:]]
    loaded = _loaded(rows, tmp_path)
    assert {name: (p.model.family, p.data.source, p.data.translate.source, p.data.test_source)
            for name, p in loaded.items()} == {
        "cyclegan": ("cyclegan", "demo", "photos", "demo"), "discogan": ("discogan", "demo", "photos", "demo"),
        "dualgan": ("dualgan", "demo", "photos", "demo"),
        **{name: ("multiscale", "folder" if "translated" in name else "demo", "none", "photos") for name in predictors}}
    assert all(loaded[name].data.root == tmp_path for name in predictors[2:])
    # 32 test videos (8 test groups of the 4 classes), each predictor at both seeds.
    assert {(loaded[n].photos.test_groups * loaded[n].photos.classes, loaded[n].train.seed) for n in predictors} == \
        {(32, 0), (32, 1)}
    assert loaded["cyclegan"].loss.adversarial.kind == "lsgan" and loaded["dualgan"].loss.adversarial.kind == "wgan"


def test_the_predictors_are_paired_clip_by_clip_over_their_seeds():
    def run(data, seed, psnrs):
        return {"row": f"predictor-{data}-seed{seed}", "clips": {f"{i} v{i}.avi": p for i, p in enumerate(psnrs)}}

    results = [run("demo", 0, [20.0, 22.0, 30.0]), run("demo", 1, [21.0, 22.0, 29.0]),
               run("translated", 0, [21.0, 21.0, 31.0]), run("translated", 1, [22.0, 22.0, 32.0])]
    # Seed means: demo 20.5, 22, 29.5; translated 21.5, 21.5, 31.5: leads 1, -0.5, 2 (mean 0.83, median 1).
    # Seed to seed: demo (1 + 0 + 1) / 3, translated (1 + 1 + 1) / 3: the larger is 1.
    assert translation.paired(results) == (
        "Clip by clip (3 test clips; whole-frame PSNR at step 1, each predictor's the mean of its 2 seeds): the "
        "translated one leads by "
        "0.83 dB on average (median 1.00), ahead on 2 of 3 clips. Two seeds of one predictor differ by 1.00 dB per "
        "clip on average (the larger of the two predictors').")
    assert translation.paired(results[:2]) == ""  # no translated runs
    results[-1]["clips"].pop("2 v2.avi")
    assert translation.paired(results) == ""  # not the same clips


def test_the_translation_tables_set_each_figure_beside_the_untranslated_one():
    def direction(fid):
        return {"fid": {"translated": fid, "untranslated": 50.0},
                "kid": {"translated": {"mean": 0.1}, "untranslated": {"mean": 0.5}},
                "cycle_psnr": {"mean": 25.0}, "target_share": {"translated": 0.75, "untranslated": 0.05},
                "temporal": {"flicker": {"translated": 2.5, "source": 0.5},
                             "warping_error": {"translated": 0.01, "source": 0.002}}}

    predicted = {"model": {"step1": {"psnr": 21.0, "ssim": 0.8, "sharpness": 30.0}},
                 "last_frame": {"step1": {"psnr": 20.0}}, "clips": 32}
    results = [{"row": "cyclegan", "metrics": {"patches": {"A": 10, "B": 12}, "ab": direction(20.0),
                                               "ba": direction(30.0)}, "train_seconds": 61},
               {"row": "predictor-translated-seed0", "metrics": predicted, "train_seconds": 99}]
    lines = translation.document({"machine": "a machine", "results": results}).splitlines()
    assert "10 and 12 moving test patches of A and B" in lines[0] and "tested on 32 test clips" in lines[0]
    body = [line for line in lines if line.startswith("| `")]
    assert body == ["| `cyclegan` | A -> B | 20.00 (50.00) | 0.1000 (0.5000) | 25.00 | 0.750 (0.050) | 2.50 (0.50) | "
                    "0.01000 (0.00200) | 61 |",
                    "| `cyclegan` | B -> A | 30.00 (50.00) | 0.1000 (0.5000) | 25.00 | 0.750 (0.050) | 2.50 (0.50) | "
                    "0.01000 (0.00200) |  |",
                    "| `predictor-translated-seed0` | the demo set translated by `cyclegan` | 21.00 | 0.800 | 30.0 | "
                    "20.00 | 99 |"]
