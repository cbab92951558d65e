"""prepare: the list of videos (data/manifest.json); for data.source demo, the demo set itself
(data/demo/, laid out like UCF101)."""
from pathlib import Path

from pipeline.stage import run
from pyext.config import load_params
from pyext.data.manifest import build_manifest, write_manifest

DEMO_ROOT = Path("data/demo")
MANIFEST = Path("data/manifest.json")


def main() -> None:
    params = load_params()
    manifest = build_manifest(params, DEMO_ROOT)
    if params.data.source != "demo":
        # data/demo is a declared output of this stage; it stays empty for the other sources.
        DEMO_ROOT.mkdir(parents=True, exist_ok=True)
        (DEMO_ROOT / "UNUSED.txt").write_text(f"data.source is {params.data.source}: no demo videos here.\n")
    write_manifest(MANIFEST, manifest)
    splits = [v.split for v in manifest.videos]
    print(f"prepare: {manifest.source}: {splits.count('train')} training and {splits.count('test')} test videos "
          f"in {len(manifest.classes)} classes, {len(manifest.missing)} listed but missing -> {MANIFEST}")


if __name__ == "__main__":
    run("prepare", main)
