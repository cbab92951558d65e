"""prepare: the list of videos (data/manifest.json); for a generated source (demo, photos), the set
itself (data/<source>/, laid out like UCF101)."""
from pyext.commands import run
from pyext.config import DOMAIN_KEYS, GENERATED_SOURCES, NONE, load_params
from pyext.data.manifest import build_manifest, write_manifest
from pyext.files import Layout

LAYOUT = Layout()
MANIFEST = LAYOUT.data.manifest


def main() -> None:
    params = load_params()
    sources = params.data.sources
    translating = params.data.translate.source != NONE
    keys = (DOMAIN_KEYS if translating else ("data.source", "data.test.source"))[:len(sources)]
    for source in sources:
        if source in GENERATED_SOURCES:  # the note an earlier run left there, not part of a generated set
            LAYOUT.unused_note(source).unlink(missing_ok=True)
    manifest = build_manifest(params, LAYOUT.generated)
    for other in GENERATED_SOURCES:
        if other not in sources:
            # data/<other> is a declared output of this stage; it stays empty for the other sources.
            note = LAYOUT.unused_note(other)
            note.parent.mkdir(parents=True, exist_ok=True)
            named = " and ".join(f"{key} is {source}" for key, source in zip(keys, sources))
            note.write_text(f"{named}: no {other} videos here.\n")
    write_manifest(MANIFEST, manifest)
    splits = [v.split for v in manifest.videos]
    roles = ("domain A", "domain B") if translating else ("training", "test")
    origin = " + ".join(f"{source} ({what})" for source, what in zip(sources, roles)) \
        if len(sources) > 1 else manifest.source
    print(f"prepare: {origin}: {splits.count('train')} training and {splits.count('test')} test videos "
          f"in {len(manifest.classes)} classes, {len(manifest.missing)} listed but missing -> {MANIFEST}")


if __name__ == "__main__":
    run("prepare", main, lock=LAYOUT.locked("prepare"))
