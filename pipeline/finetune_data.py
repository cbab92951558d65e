"""finetune_data: the fine-tuning patches (finetune.patch square, Table 2's * rows) of the training
videos, cut and motion-filtered as the training patches are -> data/finetune/train.h5, val.h5 and
report.json. With finetune.patch 0 (no fine-tuning) it reads no video and writes the report alone."""
import shutil
from dataclasses import replace

from pyext.commands import run
from pyext.config import load_params
from pyext.data.extract import extract
from pyext.data.filter import filter_patches
from pyext.data.manifest import read_manifest
from pyext.files import Layout, write_json

LAYOUT = Layout()
OUT = LAYOUT.finetune_data


def main() -> None:
    params = load_params()
    patch = params.finetune.patch
    # The stage's output folder, written whole: nothing of an earlier fine-tuning's set is left.
    shutil.rmtree(OUT.folder, ignore_errors=True)
    OUT.folder.mkdir(parents=True)
    if not patch:
        write_json(OUT.report, {"patch": 0, "why": "finetune.patch is 0: no fine-tuning"})
        print("finetune_data: finetune.patch is 0: no fine-tuning patches")
        return
    clip = replace(params.clip, patch=patch)
    record = {"clip": params.section("clip") | {"patch": patch}, "extract": params.section("extract"),
              "filter": params.section("filter"), "finetune": params.section("finetune")}
    manifest = read_manifest(LAYOUT.data.manifest)
    # The training videos only: the test clips are the extract stage's (full frames, any patch size).
    training = replace(manifest, videos=[v for v in manifest.videos if v.split == "train"])
    cut = extract(training, clip, params.extract, OUT, record)
    kept = filter_patches(OUT.patches, OUT.train, OUT.val, params.filter, record)
    for candidates in (OUT.patches, OUT.test, OUT.extract_report):  # the candidates, held in the report
        candidates.unlink()
    write_json(OUT.report, {"patch": patch, "extract": cut, "filter": kept})
    print(f"finetune_data: {patch}x{patch} patches of {cut['videos_read']} training videos: {kept['why']}: "
          f"{kept['train']} training and {kept['val']} validation patches")


if __name__ == "__main__":
    run("finetune_data", main, errors=(OSError,))
