"""experiments.claim: every row runs over the uncertain-futures preset, two rows again with the next
seed; the table reads each row's paper measures, futures measures, samples and probe from its
evaluation, with the futures' mean and the baselines once."""
import pytest

from experiments import claim
from pyext.presets import overrides, read_preset


def test_rows_run_over_the_stochastic_preset_and_two_seeds():
    rows = claim.rows()
    names = [r.name for r in rows]
    assert names == [name for name, _ in claim.ROWS] + ["l2-seed1", "gdl-l1-seed1", "adv-gdl-0.05-seed1"]
    base = tuple(overrides(read_preset(claim.BASE, "params.yaml")))
    assert 'data.source="stochastic"' in base
    for row in rows:  # the preset's settings first, but those the row sets itself
        own = {s.split("=")[0] for s in dict(claim.ROWS)[row.name.removesuffix("-seed1")]}
        kept = tuple(b for b in base if b.split("=")[0] not in own)
        assert row.settings[:len(kept)] == kept, row.name
        keys = [s.split("=")[0] for s in row.settings]
        assert len(keys) == len(set(keys)), row.name
    assert rows[-1].settings[-1] == "train.seed=1" and "loss.adv=0.05" in rows[-1].settings
    settings = dict((r.name, r.settings) for r in rows)
    assert "model.multiscale.noise=8" in settings["adv-gdl-noise"]
    assert {"loss.adv=0", "model.multiscale.noise=8"} <= set(settings["gdl-l1-noise"])
    # The demo's D, its settings after the preset's.
    demo = settings["adv-gdl-1-demo-d"]
    assert demo[-3:] == ("loss.adversarial.d_steps=1", "train.lr_d=0.0005", "train.lr_d_final=0.0005")


def _metrics(psnr: float, with_samples: bool = False) -> dict:
    step = {"psnr": psnr, "ssim": 0.5, "sharpness": 20.0}
    futures = {m: {"psnr_pooled": psnr - 1, "gradient_ratio": 0.5 if m == "mean_of_futures" else 0.9,
                   "commit_share": 0.0 if m == "mean_of_futures" else 0.75}
               for m in ("model", "last_frame", "optical_flow", "mean_of_futures")}
    metrics = {m: {"step1": step} for m in ("model", "last_frame", "optical_flow")}
    metrics.update(clips=12, futures={"branches": 2, "step1": futures}, probe={"accuracy": 0.625},
                   fid={"step1": {"model": psnr / 2, "last_frame": 3.0, "optical_flow": 4.0}},
                   kid={"step1": {m: {"mean": 0.0025, "std": 0.001} for m in ("model", "last_frame", "optical_flow")}},
                   inception_score={"step1": {m: {"mean": psnr / 8, "std": 0.1}
                                              for m in ("model", "last_frame", "optical_flow", "truth")}})
    if with_samples:
        metrics["samples"] = {"samples": 4, "step1": {"best_psnr": psnr + 2, "coverage": 1.0, "diversity": 1.25}}
    return metrics


def test_the_table_reads_every_measure_of_each_row():
    results = [{"row": "l2", "metrics": _metrics(20.0), "d_measures": {}, "train_seconds": 100.0},
               {"row": "adv-gdl-noise", "metrics": _metrics(19.0, True), "d_measures": {"d_accuracy": 0.51},
                "train_seconds": 120.0}]
    lines = claim.table(results).splitlines()
    assert lines[2].startswith("| futures' mean (reference) | - | - | - | 19.00 | 0.500 | 0.000 | - | - | - | - | - "
                               "| - |")
    assert lines[3].startswith("| the future that happened | - | - | - | - | - | - | - | - | - | - | - | 2.50 |")
    assert lines[4].startswith("| last frame | 20.00 | 0.500 | 20.00 | 19.00 | 0.900 | 0.750 | - | - | - | 3.00 | 2.50 "
                               "| 2.50 |")
    assert lines[6] == ("| `l2` | 20.00 | 0.500 | 20.00 | 19.00 | 0.900 | 0.750 | - | - | - | 10.00 | 2.50 | 2.50 "
                        "| 0.625 | (no D) | 100 |")
    assert lines[7] == ("| `adv-gdl-noise` | 19.00 | 0.500 | 20.00 | 18.00 | 0.900 | 0.750 | 21.00 | 1.000 | 1.25 "
                        "| 9.50 | 2.50 | 2.38 | 0.625 | d_accuracy 0.510 | 120 |")
    # Without a classifier, no line for the truth.
    for r in results:
        del r["metrics"]["inception_score"]
    assert "the future that happened" not in claim.table(results)


def test_the_readme_block_gives_the_table_and_each_seed_pairs_noise_floor(tmp_path):
    from experiments import readme

    l2, again = _metrics(20.0), _metrics(20.25)
    again["futures"]["step1"]["model"]["gradient_ratio"] = 0.95
    results = [{"row": "l2", "metrics": l2, "d_measures": {}, "train_seconds": 100.0},
               {"row": "l2-seed1", "metrics": again, "d_measures": {}, "train_seconds": 101.0}]
    record = {"commit": "abc1234" + "0" * 33, "machine": "a machine", "set": [], "results": results,
              "data": {"source": "stochastic", "md5": None, "reason": "not recorded by the run"}}
    block = readme.claim_block(record, tmp_path)
    assert block.startswith("Made by `make claim` at commit abc1234 on a machine.")
    assert claim.table(results).rstrip("\n") in block
    assert " ".join(block.split()).endswith("Noise floor: `l2` and `l2-seed1` differ by PSNR 0.25 dB, gradient ratio 0.050, "
                          "commit share 0.000 at step 1.")
