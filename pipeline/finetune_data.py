"""finetune_data: the fine-tuning patches (finetune.patch square, Table 2's * rows) of the training
videos, cut and motion-filtered as the training patches are -> data/finetune/train.h5, val.h5 and
report.json. With finetune.patch 0 (no fine-tuning) it reads no video and writes the report alone."""
import shutil
from dataclasses import replace
from pathlib import Path

from pipeline.stage import run
from pyext.config import load_params
from pyext.data.extract import extract
from pyext.data.files import write_json
from pyext.data.filter import filter_patches
from pyext.data.manifest import read_manifest

DATA = Path("data")
OUT = DATA / "finetune"


def main() -> None:
    params = load_params()
    patch = params.finetune.patch
    # The stage's output folder, written whole: nothing of an earlier fine-tuning's set is left.
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    if not patch:
        write_json(OUT / "report.json", {"patch": 0, "why": "finetune.patch is 0: no fine-tuning"})
        print("finetune_data: finetune.patch is 0: no fine-tuning patches")
        return
    clip = replace(params.clip, patch=patch)
    record = {"clip": params.section("clip") | {"patch": patch}, "extract": params.section("extract"),
              "filter": params.section("filter"), "finetune": params.section("finetune")}
    manifest = read_manifest(DATA / "manifest.json")
    # The training videos only: the test clips are the extract stage's (full frames, any patch size).
    training = replace(manifest, videos=[v for v in manifest.videos if v.split == "train"])
    cut = extract(training, clip, params.extract, OUT, record)
    kept = filter_patches(OUT / "patches.h5", OUT / "train.h5", OUT / "val.h5", params.filter, record)
    for name in ("patches.h5", "test.h5", "extract_report.json"):  # the candidates, held in the report
        (OUT / name).unlink()
    write_json(OUT / "report.json", {"patch": patch, "extract": cut, "filter": kept})
    print(f"finetune_data: {patch}x{patch} patches of {cut['videos_read']} training videos: {kept['why']}: "
          f"{kept['train']} training and {kept['val']} validation patches")


if __name__ == "__main__":
    run("finetune_data", main, errors=(OSError,))
