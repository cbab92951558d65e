"""experiments.table2: the rows are the presets of configs/table2/ (each a valid params change
making the row the paper names), and the table lays both measures out as Table 2 does."""
from pathlib import Path

import pytest
import yaml

from experiments.table2 import NOT_RUN, PAPER, PRESETS, ROWS, SEEDED, document, label, rows, table
from cases import REPO, TEST_PARAMS
from pyext.config import parse_params
from pyext.presets import apply_preset, read_preset


def _params(row) -> dict:
    """The tests' params with a row's settings applied."""
    preset: dict = {}
    for setting in row.settings:
        key, value = setting.split("=", 1)
        *sections, leaf = key.split(".")
        node = preset
        for name in sections:
            node = node.setdefault(name, {})
        node[leaf] = yaml.safe_load(value)
    return parse_params(apply_preset(yaml.safe_load(TEST_PARAMS.read_text()), preset), TEST_PARAMS)


@pytest.fixture(autouse=True)
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)  # the presets' folder is the project's


def test_every_preset_is_a_row_and_makes_the_row_the_paper_names():
    assert sorted(p.stem for p in PRESETS.glob("*.yaml")) == sorted(stem for stem, _ in ROWS)
    got = {r.name: _params(r) for r in rows(TEST_PARAMS)}
    for name, p in got.items():
        tuned = p.finetune.patch == 64
        assert tuned == label(name).split(" (")[0].endswith("*"), name
        assert p.model.multiscale.scales == (1 if name == "single-l2" else 4), name
    loss = {name: (p.loss.adv > 0, p.loss.p, p.loss.gdl > 0) for name, p in got.items()}
    assert loss["single-l2"] == loss["l2"] == (False, 2, False)
    assert loss["l1"] == (False, 1, False)
    assert loss["gdl-l1"] == loss["gdl-l1-ft"] == (False, 1, True)
    # The authors' released models: "adversarial+l2norm" (Adv) and "adversarial+l1norm+gdl" (AdvGDL).
    assert loss["adv-ft"] == (True, 2, False) and loss["adv-gdl-ft"] == (True, 1, True)


def test_the_last_row_is_a_second_seed_and_a_base_preset_goes_under_every_row():
    every = rows(TEST_PARAMS)
    assert every[-1].name == f"{SEEDED}-seed1" and every[-1].settings[-1] == "train.seed=1"
    assert every[-1].settings[:-1] == next(r for r in every if r.name == SEEDED).settings
    assert label(every[-1].name) == "Adv+GDL* (seed 1)"
    paper = rows(TEST_PARAMS, base=("configs/paper.yaml",))
    for plain, based in zip(every, paper):
        assert based.settings[-len(plain.settings):] == plain.settings
        assert "model.multiscale.width=1.0" in based.settings
        assert _params(based).train.optimizer == "sgd"
    assert read_preset(Path("configs/paper.yaml"), TEST_PARAMS)  # the base named in the README exists


def _scores(psnr: float, authors: float) -> dict:
    return {f"step{s}": {"psnr": psnr - s, "ssim": 0.5, "sharpness": 30.0, "authors_psnr": authors - s,
                         "authors_ssim": 0.9, "authors_sharpness": 40.0} for s in (1, 2)}


def _results() -> list[dict]:
    metrics = {"model": _scores(22.0, 30.0), "last_frame": _scores(20.0, 29.0), "optical_flow": _scores(25.0, 33.0),
               "clips": 24}
    budget = {"train": {"steps": 800, "batch_size": 8, "optimizer": "adam"}, "finetune": {"patch": 64, "steps": 200},
              "width": 0.25}
    return [{"row": "l1", "label": "l1", "metrics": metrics, "budget": budget,
             "seconds": {"train": 100.2, "finetune": None}},
            {"row": "adv-ft", "label": "Adv*", "metrics": {**metrics, "model": _scores(23.0, 31.0)},
             "budget": budget, "seconds": {"train": 200.0, "finetune": 60.4}}]


def test_table_lays_out_frames_1_and_2_then_the_rows_not_run_and_the_baselines():
    lines = table(_results(), "authors_").splitlines()
    assert lines[0] == "| | PSNR 1 | SSIM 1 | sharpness 1 | PSNR 2 | SSIM 2 | sharpness 2 | train s |"
    assert lines[2] == "| l1 | 29.00 | 0.900 | 40.00 | 28.00 | 0.900 | 40.00 | 100 |"
    assert lines[3] == "| Adv* | 30.00 | 0.900 | 40.00 | 29.00 | 0.900 | 40.00 | 260 |"
    assert lines[4].startswith("| Adv+GDL fine-tuned* | not run")
    assert lines[5] == "| last input | 28.00 | 0.900 | 40.00 | 27.00 | 0.900 | 40.00 | |"
    assert lines[6].startswith("| optical flow | 32.00 |") and len(lines) == 7
    moving = table(_results(), "").splitlines()
    assert moving[2] == "| l1 | 21.00 | 0.500 | 30.00 | 20.00 | 0.500 | 30.00 | 100 |"
    # Records with the measures that tell blur from sharpness get them beside the moving-region means.
    measured = _results()
    for r in measured:
        for method in ("model", "last_frame", "optical_flow"):
            r["metrics"][method]["step1"]["gradient_ratio"] = 0.75
        r["metrics"]["fid"] = {"step1": {"model": 2.0, "last_frame": 0.5, "optical_flow": 1.0}}
    moving = table(measured, "").splitlines()
    assert moving[0].endswith("| sharpness 2 | gradient ratio 1 | FID 1 | train s |")
    assert moving[2] == "| l1 | 21.00 | 0.500 | 30.00 | 20.00 | 0.500 | 30.00 | 0.750 | 2.00 | 100 |"
    assert moving[4].count("|") == moving[0].count("|") and moving[5].count("|") == moving[0].count("|")
    assert table(measured, "authors_").splitlines()[0] == lines[0]  # the authors' measure alone


def test_document_states_data_budget_and_both_measures_beside_the_published_table():
    text = document({"machine": "a machine", "data": {"source": "demo"}, "results": _results()})
    assert "Measured on the demo set (24 full-frame test clips, 4 frames in, 2 recursive steps), on a machine:" in text
    assert "every row 800 steps of batch 8 (adam, width 0.25); the * rows then 200 steps on 64x64" in text
    assert "6 min of training in all" in text
    assert text.count("| Adv+GDL fine-tuned* |") == 3  # not run, twice; published once
    assert "## By the authors' measure" in text and "## By this project's moving-region mean" in text
    assert "| Adv+GDL* | 31.5 | 0.91 | 25.4 | 28.0 | 0.87 | 25.1 |" in text
    assert set(NOT_RUN) <= set(PAPER) and {label for _, label in ROWS} <= set(PAPER)
