"""finetune: the train stage's generator (models/generator.pt) goes on learning on the
finetune.patch-square patches of data/finetune/ for finetune.steps updates, the discriminator built
afresh for that size, at the train stage's final rates -> models/finetune/generator.pt (with its
checkpoint and dvclive logs beside it). The evaluate stage then measures it. With finetune.patch 0
it trains nothing and writes models/finetune/none.json."""
import json
import shutil
from pathlib import Path

from pipeline.stage import run
from pyext.config import finetune_params, load_params
from pyext.data.files import write_json
from pyext.models import FINETUNE_DIR
from pyext.training import TrainingError, train

DATA, MODELS = Path("data"), Path("models")
OUT = MODELS / FINETUNE_DIR


def main() -> None:
    params = load_params()
    OUT.mkdir(parents=True, exist_ok=True)
    if not params.finetune.patch:
        # An earlier fine-tuning's generator and logs go (its checkpoint stays: it is only resumed
        # from by a run of the same params, data and code).
        (OUT / "generator.pt").unlink(missing_ok=True)
        shutil.rmtree(OUT / "dvclive", ignore_errors=True)
        write_json(OUT / "none.json", {"patch": 0, "why": "finetune.patch is 0: evaluate reads models/generator.pt"})
        print("finetune: finetune.patch is 0: nothing to fine-tune")
        return
    (OUT / "none.json").unlink(missing_ok=True)
    tuned = finetune_params(params)
    report = json.loads((DATA / FINETUNE_DIR / "report.json").read_text())
    if report.get("patch") != tuned.clip.patch:  # the data stage ran with other params: dvc repro reruns it
        raise TrainingError(f"{DATA / FINETUNE_DIR} holds {report.get('patch')}-pixel patches, params.yaml asks "
                            f"for {tuned.clip.patch} (finetune.patch): rerun finetune_data")
    summary = train(tuned, DATA / FINETUNE_DIR, OUT, OUT / "dvclive", start=MODELS / "generator.pt",
                    manifest=DATA / "manifest.json", stage="finetune")
    if summary["step"] == tuned.train.steps:
        print(f"finetune: {OUT / 'generator.pt'}: {MODELS / 'generator.pt'} after {summary['step']} steps on "
              f"{tuned.clip.patch}x{tuned.clip.patch} patches holds the generator of step {summary['val_step']} "
              f"(train.keep: {summary['kept']})")


if __name__ == "__main__":
    run("finetune", main, errors=(TrainingError, FileNotFoundError))
