"""prepare: the list of videos (data/manifest.json); for a generated source (demo, photos), the set
itself (data/<source>/, laid out like UCF101)."""
from pathlib import Path

from pipeline.stage import run
from pyext.config import GENERATED_SOURCES, load_params
from pyext.data.manifest import build_manifest, write_manifest

DATA = Path("data")
MANIFEST = DATA / "manifest.json"


def main() -> None:
    params = load_params()
    source = params.data.source
    if source in GENERATED_SOURCES:  # the note an earlier run left there, not part of a generated set
        (DATA / source / "UNUSED.txt").unlink(missing_ok=True)
    manifest = build_manifest(params, DATA / source)
    for other in GENERATED_SOURCES:
        if other != source:
            # data/<other> is a declared output of this stage; it stays empty for the other sources.
            root = DATA / other
            root.mkdir(parents=True, exist_ok=True)
            (root / "UNUSED.txt").write_text(f"data.source is {source}: no {other} videos here.\n")
    write_manifest(MANIFEST, manifest)
    splits = [v.split for v in manifest.videos]
    print(f"prepare: {manifest.source}: {splits.count('train')} training and {splits.count('test')} test videos "
          f"in {len(manifest.classes)} classes, {len(manifest.missing)} listed but missing -> {MANIFEST}")


if __name__ == "__main__":
    run("prepare", main)
