"""val_frames: full-frame clips of the first train.val_clips validation videos (data/val_frames.h5),
cut as the test clips are, so that training validates on what the test measures."""
from pyext.commands import run
from pyext.config import load_params
from pyext.data.extract import validation_frames
from pyext.data.manifest import read_manifest
from pyext.files import Layout

LAYOUT = Layout()
DATA = LAYOUT.data


def main() -> None:
    params = load_params()
    record = {"clip": params.section("clip"), "extract": params.section("extract"),
              "val_clips": params.train.val_clips}
    print("val_frames: " + validation_frames(read_manifest(DATA.manifest), DATA.val, params.clip, params.extract,
                                             params.train.val_clips, DATA.val_frames, record))


if __name__ == "__main__":
    run("val_frames", main, lock=LAYOUT.locked("val_frames"))
