"""extract: candidate training patches with motion scores (data/patches.h5), full-frame test
clips (data/test.h5) and what was skipped (data/extract_report.json)."""
from pathlib import Path

from pipeline.stage import run
from pyext.config import load_params
from pyext.data.extract import extract
from pyext.data.manifest import read_manifest

DATA = Path("data")


def main() -> None:
    params = load_params()
    manifest = read_manifest(DATA / "manifest.json")
    record = {"clip": params.section("clip"), "extract": params.section("extract")}
    report = extract(manifest, params.clip, params.extract, DATA, record)
    print(f"extract: {report['videos_read']} videos read, {report['videos_skipped']} skipped, "
          f"{report['patches']} patches, {report['test_clips']} test clips in {report['seconds']} s")


if __name__ == "__main__":
    run("extract", main)
