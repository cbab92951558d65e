"""finetune_data: the fine-tuning patches (finetune.patch square, Table 2's * rows) of the training
videos, cut and motion-filtered as the training patches are -> data/finetune/train.h5, val.h5 and
report.json. With finetune.patch 0 (no fine-tuning) it reads no video and writes the report alone."""
from pyext.commands import run
from pyext.config import load_params
from pyext.data.extract import finetune_patches
from pyext.files import DataFiles, Layout, atomic_folder

LAYOUT = Layout()


def main() -> None:
    params = load_params()
    # The stage's output folder, written whole: nothing of an earlier fine-tuning's set is left,
    # and a run that fails leaves the earlier one as it was.
    with atomic_folder(LAYOUT.finetune_data.folder) as folder:
        print(finetune_patches(params, LAYOUT.data.manifest, DataFiles(folder)))


if __name__ == "__main__":
    run("finetune_data", main, errors=(OSError,), lock=LAYOUT.locked("finetune_data"))
