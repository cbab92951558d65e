"""filter: patches that move enough (data/train.h5), those of held-out videos (data/val.h5),
and a report (data/filter_report.json)."""
from pyext.commands import run
from pyext.config import load_params
from pyext.data.filter import filter_patches
from pyext.data.manifest import read_manifest
from pyext.files import Layout, write_json

LAYOUT = Layout()
DATA = LAYOUT.data


def main() -> None:
    params = load_params()
    record = {"clip": params.section("clip"), "filter": params.section("filter")}
    # A translation run's two domains are filtered apart (the manifest says each video's).
    report = filter_patches(DATA.patches, DATA.train, DATA.val, params.filter, record,
                            read_manifest(DATA.manifest).domains())
    write_json(DATA.filter_report, report)
    print(f"filter: {report['why']}: {report['train']} training and {report['val']} validation patches "
          f"({report['bytes_per_patch']} bytes each on disk)")


if __name__ == "__main__":
    run("filter", main, lock=LAYOUT.locked("filter"))
