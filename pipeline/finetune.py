"""finetune: the train stage's generator (models/generator.pt) goes on learning on the
finetune.patch-square patches of data/finetune/ for finetune.steps updates, the discriminator built
afresh for that size, at the train stage's final rates -> models/finetune/generator.pt (with its
checkpoint and dvclive logs beside it). The evaluate stage then measures it. With finetune.patch 0
it trains nothing and writes models/finetune/none.json."""
import json
import shutil

from pyext.commands import run
from pyext.config import finetune_params, load_params
from pyext.files import Layout, write_json
from pyext.training import TrainingError, rate, train

LAYOUT = Layout()
OUT = LAYOUT.finetune


def main() -> None:
    params = load_params()
    OUT.folder.mkdir(parents=True, exist_ok=True)
    if not params.finetune.patch:
        # An earlier fine-tuning's generator and logs go (its checkpoint stays: it is only resumed
        # from by a run of the same params, data and code).
        OUT.generator.unlink(missing_ok=True)
        shutil.rmtree(OUT.live, ignore_errors=True)
        write_json(OUT.none, {"patch": 0, "why": f"finetune.patch is 0: evaluate reads {LAYOUT.train.generator}"})
        print("finetune: finetune.patch is 0: nothing to fine-tune")
        return
    OUT.none.unlink(missing_ok=True)
    tuned = finetune_params(params)
    data = LAYOUT.finetune_data
    report = json.loads(data.report.read_text())
    if report.get("patch") != tuned.clip.patch:  # the data stage ran with other params: dvc repro reruns it
        raise TrainingError(f"{data.folder} holds {report.get('patch')}-pixel patches, params.yaml asks "
                            f"for {tuned.clip.patch} (finetune.patch): rerun finetune_data")
    start = LAYOUT.train.generator
    summary = train(tuned, data, OUT, start=start, manifest=LAYOUT.data.manifest, stage="finetune",
                    val_frames=LAYOUT.data.val_frames)  # full frames, as the train stage validates on
    if summary["step"] == tuned.train.steps:
        print(f"finetune: {OUT.generator}: {start} after {summary['step']} steps on "
              f"{tuned.clip.patch}x{tuned.clip.patch} patches holds the generator of step {summary['val_step']} "
              f"(train.keep: {summary['kept']})")
    print(f"finetune: {rate(summary)}")


if __name__ == "__main__":
    run("finetune", main, errors=(TrainingError, FileNotFoundError), lock=LAYOUT.locked("finetune"))
