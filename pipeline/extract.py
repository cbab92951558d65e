"""extract: candidate training patches with motion scores (data/patches.h5), full-frame test
clips (data/test.h5) and what was skipped (data/extract_report.json).

    python -m pipeline.extract                          # the whole manifest (the DVC stage)
    python -m pipeline.extract --shard I --num-shards N # one disjoint part -> data/shards/I-of-N/
    python -m pipeline.extract --merge --num-shards N   # join the N parts into data/
"""
import argparse
from pyext.commands import run
from pyext.config import load_params
from pyext.data.extract import extract, merge_shards
from pyext.data.manifest import read_manifest
from pyext.files import Layout

LAYOUT = Layout()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shard", type=int, default=None, help="which part to extract (0-based)")
    parser.add_argument("--num-shards", type=int, default=1, help="how many parts the videos are split into")
    parser.add_argument("--merge", action="store_true", help="join the parts' outputs into data/")
    args = parser.parse_args()
    if args.num_shards < 1 or (args.shard is not None and not 0 <= args.shard < args.num_shards):
        parser.error(f"--shard must be in 0..{args.num_shards - 1} and --num-shards >= 1")
    # One lock per output set: the shards of a sharded extraction run side by side.
    if args.shard is None:
        locked = LAYOUT.locked("extract")
    else:
        locked = LAYOUT.locked(f"extract-shard-{args.shard}-of-{args.num_shards}",
                               (LAYOUT.shard(args.shard, args.num_shards).folder,))
    with locked:
        print(_extracted(args, parser))


def _extracted(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    """Extracts (a shard, or the whole manifest) or merges the shards; the line that says what."""
    params = load_params()
    record = {"clip": params.section("clip"), "extract": params.section("extract")}
    if args.merge:
        parts = [LAYOUT.shard(i, args.num_shards) for i in range(args.num_shards)]
        missing = [str(p.folder) for p in parts if not p.extract_report.exists()]
        if missing:
            parser.error(f"unfinished shards: {', '.join(missing)}")
        report = merge_shards(parts, LAYOUT.data, record)
    else:
        manifest = read_manifest(LAYOUT.data.manifest)
        shard = (args.shard, args.num_shards) if args.shard is not None else (0, 1)
        out = LAYOUT.shard(*shard) if args.shard is not None else LAYOUT.data
        report = extract(manifest, params.clip, params.extract, out, record, shard=shard)
    seconds = max(report["seconds"], 0.01)  # the report rounds to 0.01 s
    return (f"extract: {report['videos_read']} videos read, {report['videos_skipped']} skipped, "
            f"{report['patches']} patches, {report['test_clips']} test clips in {report['seconds']} s "
            f"({report['videos'] / seconds:.1f} videos/s, {report['frames_decoded'] / seconds:.0f} frames/s)")


if __name__ == "__main__":
    # OSError: an output that cannot be written (a full disk, a read-only folder); its message names the file.
    run("extract", main, errors=(OSError,))
