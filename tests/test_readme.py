"""experiments.readme: every README table that comes from a result file is what that file gives
today, with the commit and data it was made with, and says so when today's data differ."""
import json
import shutil

import pytest

from cases import REPO
from experiments import readme
from experiments.runner import DATA_FILES, lock_data

RESULTS = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "experiments" / "results").rglob("*.json"))


@pytest.fixture(scope="module")
def text() -> str:
    return (REPO / "README.md").read_text()


def test_every_marked_block_is_what_its_file_gives(text):
    assert readme.blocks(text), "README.md has no blocks rendered from result files"
    assert readme.differing(text, REPO) == [], "run `python -m experiments.readme`"


def test_every_result_file_has_its_block(text):
    marked = {(m["path"], m["view"]) for m in readme.blocks(text)}
    assert {m["view"] for m in readme.blocks(text)} <= set(readme.VIEWS)
    assert {path for path, _ in marked} >= {*RESULTS, "eval/metrics.json", "experiments/table2.py"}
    for path in RESULTS:  # each record names the commit and data it was made with
        record = json.loads((REPO / path).read_text())
        assert len(record["commit"]) == 40 and record["data"]["source"], path
        md5 = record["data"]["md5"]
        assert (sorted(md5) == sorted(DATA_FILES)) if md5 is not None else record["data"]["reason"], path


def test_a_changed_figure_is_found_and_rendered_back(text, tmp_path):
    block = next(m for m in readme.blocks(text) if m["path"] == "experiments/results/zoo/zoo.json")
    changed = text[:block.start("body")] + block["body"].replace("| 22.12 |", "| 22.13 |", 1) + text[block.end("body"):]
    assert changed != text
    assert readme.differing(changed, REPO) == ["experiments/results/zoo/zoo.json zoo"]
    assert readme.render(changed, REPO) == text
    for name in ("dvc.lock", "README.md"):  # the command on a copy: --check fails, a run rewrites the block
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "README.md").write_text(changed)
    for path, _ in {(m["path"], m["view"]) for m in readme.blocks(text)}:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / path, tmp_path / path)
    with pytest.raises(SystemExit) as exit_:
        readme.main(["--check", str(tmp_path / "README.md")])
    assert exit_.value.code == 1
    readme.main([str(tmp_path / "README.md")])
    assert (tmp_path / "README.md").read_text() == text


def _record(md5: dict | None) -> dict:
    data = {"source": "demo", "md5": md5, "from": "the experiments' dvc.lock"} if md5 is not None else \
        {"source": "demo", "md5": None, "reason": "not recorded by the run"}
    return {"commit": "abc1234" + "0" * 33, "machine": "a machine", "set": ["train.steps=5"], "data": data}


def test_the_data_line_says_whether_today_s_data_are_the_record_s(tmp_path):
    (tmp_path / "dvc.lock").write_text((REPO / "dvc.lock").read_text())
    today = {p: md5 for p, md5 in lock_data((tmp_path / "dvc.lock").read_text()).items() if p in DATA_FILES}
    same = readme.made_line(_record(today), "make zoo", tmp_path)
    assert same.startswith("Made by `make zoo` at commit abc1234 on a machine (for every row: `train.steps=5`).")
    assert same.endswith("Today's `dvc.lock` records the same data.")
    other = readme.made_line(_record({**today, "data/test.h5": "f" * 32}), "make zoo", tmp_path)
    assert "data/test.h5 ffffffff" in other
    assert other.endswith(f"**Today's demo data differ** (`dvc.lock`: data/test.h5 {today['data/test.h5'][:8]}): "
                          "these figures are not what `make zoo` gives today.")
    # A record of another set than the workspace's: nothing to compare with.
    stochastic = _record({**today, "data/test.h5": "f" * 32})
    stochastic["data"]["source"] = "stochastic"
    assert readme.made_line(stochastic, "make claim", tmp_path).endswith(
        "Today's `dvc.lock` is of the demo set, so it cannot say whether these are today's.")
    unknown = readme.made_line(_record(None), "make table2", tmp_path, machine=False)
    assert unknown == ("Made by `make table2` at commit abc1234 (for every row: `train.steps=5`). Data: the demo "
                       "set, digests unknown: not recorded by the run. Whether today's demo data are the same cannot "
                       "be checked, so these figures may not be what `make table2` gives today.")


def test_metrics_that_are_not_the_recorded_output_say_so(tmp_path):
    (tmp_path / "dvc.lock").write_text((REPO / "dvc.lock").read_text())
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "metrics.json").write_text((REPO / "eval" / "metrics.json").read_text() + " ")
    assert "is not the output `dvc.lock` records" in readme.demo_made(tmp_path / "eval" / "metrics.json", tmp_path)


def test_the_noise_floor_pairs_each_seed_row_with_its_row():
    rows = [{"row": "bce"}, {"row": "hinge"}, {"row": "bce-seed1"}, {"row": "orphan-seed1"}]
    assert readme.seed_pairs(rows) == [({"row": "bce"}, {"row": "bce-seed1"})]


def test_wrapped_prose_never_breaks_inline_code_nor_starts_a_list():
    # Plain wrapping at 100 columns would break inside the code and start a line with "* ".
    code = readme._para("word " * 18 + "`make table2` gives" + " word" * 30)
    assert "`make table2`" in code and all(len(line) <= 100 for line in code.splitlines())
    star = readme._para("ab " * 32 + "the * rows" + " word" * 30)
    assert not any(line.startswith("* ") for line in star.splitlines()) and "the * rows" in star.replace("\n", " ")
