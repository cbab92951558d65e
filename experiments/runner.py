"""What the long comparisons (:mod:`experiments.zoo`, :mod:`experiments.table2`) share: their
command line (:func:`main`, run with a :class:`Study`), running rows as DVC experiments one at a
time, reading an experiment's files back, and a picture of one test clip predicted by every
experiment.

Every experiment is ``dvc exp run --temp`` (a temporary copy of the workspace, so the user's
``params.yaml``, models and evaluation stay as they are) with the built extension copied in
(``--copy-paths``) and ``BEYONDMSE_REQUIRE_NATIVE=1``, so a run that would fall back to the
reference ops fails instead. Each stays in the repository under ``<prefix><row>``: ``dvc exp show``
lists them, ``dvc exp apply`` brings one into the workspace. A stage whose params, code and data
some earlier run had is not rerun: DVC restores its outputs from the run cache.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import h5py
import numpy as np
import yaml

from pyext.config import load_params
from pyext.presets import overrides
from pyext.data.store import ClipArray, futures_of, open_store
from pyext.evaluation.predictor import read_predictions
from pyext.evaluation.metrics import motion_mask, psnr

RESULTS = Path("experiments/results")  # a study's files: RESULTS/<name>/<name>.{json,md,png}
LOGS = Path("experiments/logs")  # each experiment's output: LOGS/<name>/<row>.log (not kept in git)
# The data every row trains, validates and is tested on: a record names them by DVC's md5, so that
# a table made on other data than the pipeline's today says so.
DATA_FILES = ("data/train.h5", "data/val.h5", "data/test.h5")
# The studies compare objectives, losses and options trained from random weights, as their papers
# trained them (and as their committed results were made), not from params.yaml's default start, the
# shipped pretrained predictor (whose architecture some rows change).
FROM_SCRATCH = tuple(overrides({"train": {"init": ""}}))


@dataclass(frozen=True)
class Row:
    """One experiment: its name (``<prefix><name>`` in DVC) and the ``-S`` settings that make it."""

    name: str
    settings: tuple[str, ...]


def chosen(every: list[Row], only: str | None, parser) -> list[Row]:
    """The rows ``--only`` names (comma-separated; None: all), in their order; an unknown name is a
    usage error naming the known ones."""
    if not only:
        return every
    names = only.split(",")
    unknown = sorted(set(names) - {r.name for r in every})
    if unknown:
        parser.error(f"--only: unknown rows {', '.join(unknown)} (known: {', '.join(r.name for r in every)})")
    return [r for r in every if r.name in names]


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def experiment_ref(prefix: str, name: str) -> str | None:
    """The git ref of experiment ``<prefix><name>`` based on the workspace's commit, or None."""
    head = git("rev-parse", "HEAD").strip()
    base = f"refs/exps/{head[:2]}/{head[2:]}/{prefix}{name}"
    return base if git("for-each-ref", "--format=%(refname)", base).strip() else None


def show(ref: str, path: str) -> str:
    """A text file of an experiment's commit."""
    return git("show", f"{ref}:{path}")


def machine() -> str:
    """The machine's processor and core count, for a table's caption (Linux names the processor
    in /proc/cpuinfo only: platform.processor() is empty there)."""
    name = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        name = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                     if line.startswith("model name")), name)
    return f"{name or platform.machine()}, {os.cpu_count()} cores"


def _extension(command: str) -> Path:
    built = sorted(Path("pyext").glob("_C.*.so"))  # the ops, not the tests' library (_C_testing)
    if not built:
        sys.exit(f"{command}: the extension is not built in pyext/ (run `make build` first)")
    return built[0]


def row_settings(row: Row, extra: list[str]) -> tuple[str, ...]:
    """The ``-S`` settings of a row's experiment: :data:`FROM_SCRATCH` unless the row or ``extra``
    (``--set``) name ``train.init`` themselves, then the row's, then ``extra``."""
    given = (*row.settings, *extra)
    return given if any(s.startswith("train.init=") for s in given) else (*FROM_SCRATCH, *given)


def run_row(prefix: str, logs: Path, row: Row, extra: list[str], command: str) -> tuple[bool, float]:
    """Runs one experiment (replacing an earlier one of the same name), its output in
    ``logs/<row>.log``; returns (succeeded, seconds)."""
    name = prefix + row.name
    if experiment_ref(prefix, row.name):
        subprocess.run(["dvc", "exp", "remove", name], check=True, capture_output=True)
    run = ["dvc", "exp", "run", "--temp", "-n", name, "-C", str(_extension(command))]
    for setting in row_settings(row, extra):
        run += ["-S", setting]
    log = logs / f"{row.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log, "w") as f:
        done = subprocess.run(run, stdout=f, stderr=subprocess.STDOUT,
                              env={**os.environ, "BEYONDMSE_REQUIRE_NATIVE": "1"})
    return done.returncode == 0, time.perf_counter() - start


def run_rows(prefix: str, logs: Path, rows: list[Row], extra: list[str], command: str,
             before: Callable[[str, Row], None] | None = None) -> dict[str, float]:
    """Runs ``rows`` one at a time (each with the ``extra`` settings too, after ``before(prefix, row)``
    where given), saying which and how long; returns each finished row's seconds."""
    _extension(command)
    seconds = {}
    for i, row in enumerate(rows):
        print(f"{command}: [{i + 1}/{len(rows)}] {prefix}{row.name} ({' '.join(row.settings + tuple(extra))})",
              flush=True)
        if before is not None:
            before(prefix, row)
        ok, took = run_row(prefix, logs, row, extra, command)
        print(f"{command}:   {'done' if ok else 'FAILED'} in {took:.0f} s"
              + ("" if ok else f" (see {logs / (row.name + '.log')})"), flush=True)
        if ok:
            seconds[row.name] = took
    return seconds


def read_output(ref: str, path: str) -> io.BytesIO:
    """A binary output of an experiment, read through DVC from its cache (the workspace may have
    never run the pipeline: the experiments ran in temporary copies)."""
    import dvc.api
    return io.BytesIO(dvc.api.read(path, repo=".", rev=ref, mode="rb"))


def read_picture(ref: str, path: str) -> np.ndarray:
    """The PNG at ``path`` among ``ref``'s outputs (e.g. ``eval/pictures/real.png``), RGB uint8 (H, W, 3)."""
    encoded = np.frombuffer(read_output(ref, path).read(), np.uint8)
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def predictions(ref: str) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """An experiment's stored test predictions (per clip: (steps, h, w, 3)), the test clip indices
    and the crop origins (N, 2)."""
    with h5py.File(read_output(ref, "eval/predictions.h5"), "r") as f:
        stored, clip, origins = read_predictions(f)
        return [stored[i] for i in range(len(stored))], clip, origins


def label(cell: np.ndarray, text: str) -> np.ndarray:
    """``cell`` with ``text`` in a white margin above it."""
    margin = np.full((22, cell.shape[1], 3), 255, np.uint8)
    cv2.putText(margin, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([margin, cell])


def picture(runs: list[tuple[str, str]], m: int, threshold: float, per_row: int = 4, crop: int = 64,
            zoom: int = 3) -> np.ndarray:
    """One test clip (the one with the largest moving region at step 1) predicted by every
    experiment of ``runs`` (label, git ref): per experiment, the moving region's crop at steps 1
    and 2, ``zoom`` times enlarged, labelled with its moving-region PSNR on this clip at step 1
    (``m`` input frames), after the truth, each possible future where the test store records them
    (the stochastic set) and the last input frame, read from the first experiment's
    ``data/test.h5`` (every experiment evaluates the same test clips). RGB uint8."""
    stored = [predictions(ref) for _, ref in runs]
    first, indices, origins = stored[0]
    with open_store(read_output(runs[0][1], "data/test.h5")) as f:
        test, recorded = ClipArray(f), futures_of(f)
        windows = [(int(i), slice(top, top + p.shape[1]), slice(left, left + p.shape[2]))
                   for i, (top, left), p in zip(indices, origins, first)]
        clips = [test.read(i, slice(0, m + 2), rows, columns) for i, rows, columns in windows]
        masks = [np.stack([motion_mask(c[m + j - 1], c[m + j], threshold) for j in range(2)]) for c in clips]
        best = int(np.argmax([mask[0].sum() for mask in masks]))
        clip, mask = clips[best], masks[best]
        futures = None  # the pictured clip's only
        if recorded is not None:
            i, rows, columns = windows[best]
            futures = recorded[0].read(i, slice(None), rows, columns).reshape(recorded[1], -1, *clip.shape[1:])[:, :2]
    h, w = clip.shape[1:3]
    # The crop with the most moving edges of the true frame: blur shows there, not on flat colour.
    grey = cv2.cvtColor(clip[m], cv2.COLOR_RGB2GRAY).astype(np.float32)
    edges = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    energy = cv2.boxFilter(edges * mask[0], -1, (crop, crop), normalize=False, borderType=cv2.BORDER_CONSTANT)
    valid = energy[crop // 2:h - crop // 2 + 1, crop // 2:w - crop // 2 + 1]
    cy, cx = np.unravel_index(int(np.argmax(valid)), valid.shape)

    def cell(frames: np.ndarray) -> np.ndarray:
        crops = [cv2.resize(f[cy:cy + crop, cx:cx + crop], None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
                 for f in frames]
        return np.concatenate([crops[0], np.full((crop * zoom, 4, 3), 255, np.uint8), crops[1]], axis=1)

    def score(frames: np.ndarray) -> str:
        return f"{psnr(frames[0], clip[m], mask[0]):.2f} dB"

    last = np.stack([clip[m - 1]] * 2)
    cells = [label(cell(clip[m:m + 2]), "truth, steps 1 | 2")]
    if futures is not None:
        cells += [label(cell(future), f"future {k + 1} {score(future)}") for k, future in enumerate(futures)]
    cells.append(label(cell(last), f"last frame {score(last)}"))
    for (name, _), (pred, _, _) in zip(runs, stored):
        cells.append(label(cell(pred[best]), f"{name} {score(pred[best])}"))
    return tile(cells, per_row)


def tile(cells: list[np.ndarray], per_row: int) -> np.ndarray:
    """Pictures of one shape (RGB uint8), ``per_row`` a line, white gaps between them."""
    blank = np.full_like(cells[0], 255)
    cells = cells + [blank] * (-len(cells) % per_row)
    gap = np.full((cells[0].shape[0], 12, 3), 255, np.uint8)
    lines = [np.concatenate([x for c in cells[i:i + per_row] for x in (c, gap)][:-1], axis=1)
             for i in range(0, len(cells), per_row)]
    spacer = np.full((12, lines[0].shape[1], 3), 255, np.uint8)
    return np.concatenate([x for line in lines for x in (line, spacer)][:-1])


def write_picture(path: Path, image: np.ndarray) -> None:
    """Writes an RGB picture as PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


@dataclass(frozen=True)
class Study:
    """A long comparison as :func:`main` runs it: rows run as DVC experiments ``<name>-<row>``, each
    read back, then a record (JSON: the machine, the commit, the data the rows ran on, the settings
    and each row's results), a document (markdown) and a picture in ``RESULTS/<name>/``.

    ``rows`` gives every row from the parsed arguments; ``collect(row, ref)`` the figures of the
    row's experiment (git ref ``ref``), which the runner files under the row's name, settings and
    ref; ``document`` the markdown of a record; ``label`` a result's name in the picture;
    ``options`` the study's own arguments (flag and ``add_argument`` keywords), recorded by name;
    ``picture`` the study's picture of a record (None: :func:`picture`, one test clip predicted by
    every row); ``animation`` the study's GIF of a record, its bytes (None, or returning None: none);
    ``before(prefix, row)`` what a row needs made before its experiment runs (None: nothing).
    """

    name: str
    description: str
    rows: Callable[[argparse.Namespace], list[Row]]
    collect: Callable[[Row, str], dict]
    document: Callable[[dict], str]
    label: Callable[[dict], str]
    options: tuple[tuple[str, dict], ...] = ()
    picture: Callable[[dict], np.ndarray] | None = None
    animation: Callable[[dict], bytes | None] | None = None
    before: Callable[[str, Row], None] | None = None

    @property
    def prefix(self) -> str:
        return f"{self.name}-"

    @property
    def out(self) -> Path:
        return RESULTS / self.name


def lock_data(lock: str) -> dict[str, str]:
    """The DVC md5 of each store of :data:`DATA_FILES`, and of the fine-tuning patches, that the
    text of a ``dvc.lock`` records as a stage's output."""
    outs = (out for stage in yaml.safe_load(lock)["stages"].values() for out in stage.get("outs", []))
    return {out["path"]: out["md5"] for out in outs
            if out["path"] in DATA_FILES or out["path"].startswith("data/finetune/") and out["path"].endswith(".h5")}


def data_record(results: list[dict]) -> dict:
    """What data the rows ran on: ``source`` (the first experiment's ``data.source``) and ``md5``, the
    digests of :data:`DATA_FILES` that every row's ``data`` holds, with where they come from; ``md5``
    None with a ``reason`` where the rows' differ."""
    source = yaml.safe_load(show(results[0]["ref"], "params.yaml"))["data"]["source"]
    digests = [{path: r["data"].get(path) for path in DATA_FILES} for r in results]
    if any(d != digests[0] for d in digests):
        return {"source": source, "md5": None, "reason": "the rows ran on different data: each row's data says which"}
    return {"source": source, "md5": digests[0], "from": "the experiments' dvc.lock"}


def collect(study: Study, rows: list[Row]) -> list[dict]:
    """The figures of every row whose experiment exists (based on the workspace's commit), in order,
    each with the data its experiment's ``dvc.lock`` records (:func:`lock_data`)."""
    results = []
    for row in rows:
        ref = experiment_ref(study.prefix, row.name)
        if ref is not None:
            results.append({"row": row.name, "settings": list(row.settings), "ref": ref, **study.collect(row, ref),
                            "data": lock_data(show(ref, "dvc.lock"))})
    return results


def write(study: Study, record: dict, out: Path) -> tuple[str, list[Path]]:
    """Writes the record, its document, the picture of one test clip and the study's animation (if
    it has one) into the folder ``out``; returns the document and the files written."""
    params = load_params()
    text = study.document(record)
    named = {suffix: out / f"{study.name}.{suffix}" for suffix in ("md", "json", "png", "gif")}
    out.mkdir(parents=True, exist_ok=True)
    named["json"].write_text(json.dumps(record, indent=1))
    named["md"].write_text(text)
    results = record["results"]
    image = (study.picture(record) if study.picture else
             picture([(study.label(r), r["ref"]) for r in results], params.clip.input_frames,
                     params.evaluate.flow_threshold))
    write_picture(named["png"], image)
    clip = study.animation(record) if study.animation else None
    if clip is None:
        del named["gif"]
    else:
        named["gif"].write_bytes(clip)
    return text, list(named.values())


def main(study: Study, argv: list[str] | None = None, prog: str | None = None) -> None:
    """The command line of a study: runs the rows ``--only`` names (all by default) with the ``--set``
    settings, unless ``--collect``; then records, documents and pictures every existing experiment
    of the study (with ``--collect``, those ``--only`` names) in ``--out`` (default ``RESULTS/<name>``).
    ``argv``: the arguments (None: ``sys.argv[1:]``); ``prog``: the command's name in its usage and
    errors."""
    parser = argparse.ArgumentParser(prog=prog, description=study.description)
    parser.add_argument("--only", help="comma-separated rows to run (default: all); with --collect, to tabulate")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a -S setting for every row (e.g. train.steps=100); repeatable")
    options = [parser.add_argument(flag, **kwargs).dest for flag, kwargs in study.options]
    parser.add_argument("--collect", action="store_true",
                        help="do not run: tabulate existing experiments (with --only, those rows alone)")
    parser.add_argument("--out", type=Path, default=study.out, metavar="DIR",
                        help=f"where the record, document and picture go (default: {study.out})")
    args = parser.parse_args(argv)
    every = study.rows(args)
    began, ran = time.perf_counter(), []
    if not args.collect:
        ran = chosen(every, args.only, parser)
        run_rows(study.prefix, LOGS / study.name, ran, args.set, study.name, study.before)
    # A subset of one run's rows (the README's option and class tables) is tabulated with --collect --only.
    results = collect(study, chosen(every, args.only, parser) if args.collect else every)
    if not results:
        sys.exit(f"{study.name}: no {study.name} experiments to tabulate")
    record = {"machine": machine(), "commit": git("rev-parse", "HEAD").strip(), "data": data_record(results),
              "set": args.set,
              **{name: getattr(args, name) for name in options}, "results": results}
    text, written = write(study, record, args.out)
    print(text)
    print(f"{study.name}: wrote {', '.join(map(str, written))}")
    if ran:
        took = time.perf_counter() - began
        print(f"{study.name}: {len(ran)} rows in {took / 60:.1f} min ({len(ran) / took * 3600:.1f} rows/h) on "
              f"{machine()}")
