"""experiments.zoo: the rows come from the objective registry (so a new objective enters the zoo),
and the table puts the baselines once, then one line per experiment with D's measure and the seconds."""
import yaml

from experiments.zoo import OPTION_ROWS, Row, rows, table
from cases import TEST_PARAMS
from pyext.config import OBJECTIVES, load_params, parse_params
from pyext.presets import apply_preset


def test_rows_are_every_objective_then_no_discriminator_a_second_seed_and_the_options():
    p = load_params(TEST_PARAMS)
    got = rows(TEST_PARAMS)
    assert [r.name for r in got[:len(OBJECTIVES)]] == list(OBJECTIVES)
    assert got[list(OBJECTIVES).index("hinge")] == Row("hinge", ("loss.adversarial.kind=hinge",))
    options = len(OPTION_ROWS)
    assert got[-2 - options:-options] == [
        Row("adv0", ("loss.adv=0",)),
        Row(f"{p.loss.adversarial.kind}-seed{p.train.seed + 1}", (f"train.seed={p.train.seed + 1}",))]
    assert got[-options:] == list(OPTION_ROWS)
    raw = yaml.safe_load(TEST_PARAMS.read_text())
    for row in OPTION_ROWS:  # every option row is a valid params change (dvc exp run -S ...)
        preset: dict = {}
        for setting in row.settings:
            key, value = setting.split("=", 1)
            *sections, leaf = key.split(".")
            node = preset
            for name in sections:
                node = node.setdefault(name, {})
            node[leaf] = yaml.safe_load(value)
        parse_params(apply_preset(raw, preset), TEST_PARAMS)


def _scores(psnr: float) -> dict:
    return {f"step{s}": {"psnr": psnr - s, "ssim": 0.5, "sharpness": 30.0} for s in (1, 2)}


def test_table_lists_baselines_once_and_each_experiment():
    metrics = {"model": _scores(22.0), "last_frame": _scores(20.0), "optical_flow": _scores(25.0)}
    results = [{"row": "hinge", "metrics": metrics, "d_measures": {"d_accuracy": 0.75}, "train_seconds": 12.4},
               {"row": "adv0", "metrics": {**metrics, "model": _scores(23.0)}, "d_measures": {},
                "train_seconds": 9.6}]
    lines = table(results).splitlines()
    assert len(lines) == 2 + 2 + 2
    assert lines[2] == "| last frame | 19.00 | 18.00 | 0.500 | 0.500 | 30.00 | 30.00 |  | - |"
    assert lines[3].startswith("| optical flow | 24.00 | 23.00 |")
    assert lines[4] == "| `hinge` | 21.00 | 20.00 | 0.500 | 0.500 | 30.00 | 30.00 | d_accuracy 0.750 | 12 |"
    assert lines[5] == "| `adv0` | 22.00 | 21.00 | 0.500 | 0.500 | 30.00 | 30.00 | (no D) | 10 |"


def test_the_blur_measures_join_the_table_where_the_evaluations_have_them():
    def scores(psnr: float, ratio: float) -> dict:
        return {f"step{s}": {"psnr": psnr, "ssim": 0.5, "sharpness": 30.0, "gradient_ratio": ratio} for s in (1, 2)}

    metrics = {"model": scores(22.0, 0.6), "last_frame": scores(20.0, 1.0), "optical_flow": scores(25.0, 0.9),
               "fid": {"step1": {"model": 1.5, "last_frame": 0.1, "optical_flow": 1.0}}}
    lines = table([{"row": "l2", "metrics": metrics, "d_measures": {}, "train_seconds": 10.0}]).splitlines()
    assert lines[0].endswith("| sharpness 2 | gradient ratio 1 | FID 1 | D's measure (mean, 2nd half) | train s |")
    assert lines[1] == "|---" * 11 + "|"
    assert lines[2] == "| last frame | 20.00 | 20.00 | 0.500 | 0.500 | 30.00 | 30.00 | 1.000 | 0.10 |  | - |"
    assert lines[4] == "| `l2` | 22.00 | 22.00 | 0.500 | 0.500 | 30.00 | 30.00 | 0.600 | 1.50 | (no D) | 10 |"
