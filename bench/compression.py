"""HDF5 compression filters for the clip stores, on the pipeline's own clips: how fast each writes
and reads a store's clips (one clip a chunk, as the stores are chunked) and how small it gets.

The clips are those of ``data/patches.h5`` (32x32 training patches) and ``data/test.h5``
(full-frame test clips), read once into memory; every filter then writes them into an in-memory
HDF5 file through h5py, one clip at a time, and reads them back. Timings are the median of
``--repeats`` rounds, the filters taken in turn within each round. gzip level 1 is what the stores
used before Zstandard; the others come from ``hdf5plugin``.

    python -m bench.compression                  # the demo set's stores
    python -m bench.compression --clips 2000 --repeats 5
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import h5py
import numpy as np

from pyext.data.store import ClipArray, open_store


def filters() -> dict[str, dict]:
    """h5py ``create_dataset`` options of each filter measured, by name."""
    try:
        import hdf5plugin
    except ImportError:
        sys.exit("compression: needs hdf5plugin (pip install hdf5plugin)")
    return {
        "gzip 1": {"compression": "gzip", "compression_opts": 1},
        "zstd 1": dict(hdf5plugin.Zstd(clevel=1)),
        "zstd 3": dict(hdf5plugin.Zstd(clevel=3)),
        "lz4": dict(hdf5plugin.LZ4()),
        "blosc2 lz4 5 shuffle": dict(hdf5plugin.Blosc2(cname="lz4", clevel=5, filters=hdf5plugin.Blosc2.SHUFFLE)),
        "blosc2 zstd 1 shuffle": dict(hdf5plugin.Blosc2(cname="zstd", clevel=1, filters=hdf5plugin.Blosc2.SHUFFLE)),
        "none": {},
    }


def load(path: Path, limit: int) -> list[np.ndarray]:
    """Up to ``limit`` clips of a store (spread over it), each uint8 (T, H, W, 3)."""
    with open_store(path) as f:
        clips = ClipArray(f)
        rows = np.linspace(0, len(clips) - 1, min(limit, len(clips))).round().astype(int)
        return [clips[int(i)] for i in rows]


def round_trip(clips: list[np.ndarray], options: dict) -> tuple[float, float, int]:
    """Seconds to write ``clips`` one chunk each, seconds to read them back, stored bytes."""
    with h5py.File(f"bench-{id(clips)}.h5", "w", driver="core", backing_store=False) as f:
        shape = clips[0].shape
        d = f.create_dataset("clips", shape=(len(clips), *shape), dtype=np.uint8, chunks=(1, *shape), **options)
        start = time.perf_counter()
        for i, clip in enumerate(clips):
            d[i] = clip
        f.flush()
        written = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(len(clips)):
            back = d[i]
        read = time.perf_counter() - start
        assert np.array_equal(back, clips[-1])
        return written, read, d.id.get_storage_size()


def detects_damage(clip: np.ndarray, options: dict) -> bool:
    """Whether reading a chunk whose compressed bytes were damaged in the middle fails (rather than
    giving wrong pixels without a word)."""
    with h5py.File(f"damage-{id(clip)}.h5", "w", driver="core", backing_store=False) as f:
        d = f.create_dataset("clips", shape=(1, *clip.shape), dtype=np.uint8, chunks=(1, *clip.shape), **options)
        d[0] = clip
        mask, chunk = d.id.read_direct_chunk((0,) * (clip.ndim + 1))
        damaged = bytearray(chunk)
        middle = len(damaged) // 2
        damaged[middle:middle + 64] = bytes(b ^ 0x55 for b in damaged[middle:middle + 64])
        d.id.write_direct_chunk((0,) * (clip.ndim + 1), bytes(damaged), mask)
        try:
            d[0]  # read without an error: damaged pixels come back as if they were right
            return False
        except OSError:
            return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--clips", type=int, default=1000, help="clips per store at most")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    options = filters()
    for store in ("patches.h5", "test.h5"):
        clips = load(args.data / store, args.clips)
        raw = sum(c.nbytes for c in clips)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in options}
        sizes = {}
        for _ in range(args.repeats):
            for name, opts in options.items():
                written, read, sizes[name] = round_trip(clips, opts)
                times[name].append((written, read))
        print(f"\n{store}: {len(clips)} clips of {clips[0].shape}, {raw / 1e6:.1f} MB raw\n")
        print("| filter | write MB/s | read MB/s | size | write vs gzip 1 | a damaged chunk fails to read |\n"
              "|---|---|---|---|---|---|")
        base = statistics.median(w for w, _ in times["gzip 1"])
        for name in options:
            w = statistics.median(t for t, _ in times[name])
            r = statistics.median(t for _, t in times[name])
            damage = "yes" if detects_damage(clips[0], options[name]) else "no"
            print(f"| {name} | {raw / w / 1e6:.0f} | {raw / r / 1e6:.0f} | {sizes[name] / raw:.1%} | {base / w:.2f}x "
                  f"| {damage} |")


if __name__ == "__main__":
    main()
