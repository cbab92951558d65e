"""Extraction throughput against raw PyAV decoding of the same videos, in one run; and the
rate at which ClipDataset feeds a DataLoader from data/train.h5.

For 1 and 2 workers: the extract stage's work (decode, cut clips and crops, motion scores, write
HDF5) against decoding the same videos to RGB arrays and nothing else, with the same processes and
decoder threads (one worker: FFmpeg picks its decoder threads, as extract lets it; several
workers: one decoder thread each). Frames/s and patches/s, and extraction / raw decode.

    python -m bench.extract                      # the demo videos of data/manifest.json
"""
from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from pyext.config import load_params
from pyext.data.extract import extract
from pyext.data.manifest import read_manifest
from pyext.data.video import read_video


def _decode(task: tuple[Path, tuple[int, int], int | None]) -> int:
    path, max_size, threads = task
    return len(read_video(path, max_size=max_size, threads=threads))


def raw_decode(paths: list[Path], max_size: tuple[int, int], workers: int) -> tuple[float, int]:
    """Seconds and frames to decode every video with ``workers`` processes."""
    threads = None if workers == 1 else 1
    tasks = [(p, max_size, threads) for p in paths]
    start = time.perf_counter()
    if workers == 1:
        frames = sum(map(_decode, tasks))
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            frames = sum(pool.imap(_decode, tasks))
    return time.perf_counter() - start, frames


def loader_rate(path: Path, workers: int, batch_size: int = 8, batches: int = 200) -> float:
    """Samples per second a shuffled DataLoader over ``path`` delivers (after its first batch)."""
    # Imported here: extraction's spawned workers re-import this module, and torch would add
    # seconds to their start-up that the extract stage does not pay.
    import torch

    from pyext.data.dataset import ClipDataset
    loader = torch.utils.data.DataLoader(ClipDataset(path), batch_size=batch_size, shuffle=True,
                                         num_workers=workers, persistent_workers=workers > 0)
    done, start = 0, None
    while done < batches * batch_size:
        for batch in loader:
            if start is None:  # worker start-up is not the steady rate
                start = time.perf_counter()
                continue
            done += len(batch)
            if done >= batches * batch_size:
                break
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", default="data/manifest.json")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each (median)")
    parser.add_argument("--train", default="data/train.h5", help="store the DataLoader reads")
    args = parser.parse_args()
    params = load_params()
    manifest = read_manifest(args.manifest)
    paths = [Path(manifest.root) / v.path for v in manifest.videos]
    print(f"{len(paths)} videos of {args.manifest}")
    print("| workers | raw decode frames/s | extract frames/s | extract patches/s | extract / raw |")
    print("|---|---|---|---|---|")
    for workers in (1, 2):
        raw, ext = [], []
        for _ in range(args.repeats):  # alternated, so both see the same machine load
            seconds, frames = raw_decode(paths, params.extract.frame_size, workers)
            raw.append(frames / seconds)
            with tempfile.TemporaryDirectory() as out:
                start = time.perf_counter()
                report = extract(manifest, params.clip, replace(params.extract, workers=workers), Path(out), {},
                                 progress=False)
                seconds = time.perf_counter() - start
            ext.append((report["frames_decoded"] / seconds, report["patches"] / seconds))
        raw_rate = sorted(raw)[len(raw) // 2]
        frame_rate, patch_rate = sorted(ext)[len(ext) // 2]
        print(f"| {workers} | {raw_rate:.0f} | {frame_rate:.0f} | {patch_rate:.0f} | {frame_rate / raw_rate:.2f}x |",
              flush=True)
    print(f"\nDataLoader over {args.train}, batch 8, shuffled:")
    print("| loader workers | samples/s |")
    print("|---|---|")
    for workers in (0, 2):
        print(f"| {workers} | {loader_rate(Path(args.train), workers):.0f} |", flush=True)


if __name__ == "__main__":
    main()
