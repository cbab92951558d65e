"""The adversarial objective zoo: one DVC experiment per registered objective on the pipeline's data
(the demo set as shipped), each with the same step budget, one at a time; then a table and a
picture of one test clip predicted by each.

Every experiment is ``dvc exp run --temp`` (a temporary copy of the workspace, so the user's
``params.yaml``, models and evaluation stay as they are) with the built extension copied in
(``--copy-paths``) and ``BEYONDMSE_REQUIRE_NATIVE=1``, so a run that would fall back to the
reference ops fails instead. The rows: every ``loss.adversarial.kind`` (f-GAN with the
divergence ``params.yaml`` names), ``loss.adv: 0`` (no discriminator: the reconstruction losses
alone), the shipped objective with a second ``train.seed`` (the noise floor), and the shipped
objective with each option of :data:`OPTION_ROWS` (feature loss, spectral norm with attention,
batch norm, D's pause, cGAN's and ACGAN's class conditioning). Each experiment
stays in the repository under its name (``zoo-<row>``): ``dvc exp show`` lists them, ``dvc exp
apply zoo-hinge`` brings one into the workspace. A row with the params of the workspace's commit
is not retrained: DVC reuses that commit's run.

    python -m bench.zoo                          # every row; writes bench/zoo/
    python -m bench.zoo --only hinge,wgan_gp     # some rows
    python -m bench.zoo --set train.steps=100    # a shorter budget for every row
    python -m bench.zoo --collect                # only the table and picture, of existing experiments

Writes ``bench/zoo/table.md`` (moving-region PSNR / SSIM / sharpness at the two predicted steps,
D's measure over the second half of the run, training seconds), ``bench/zoo/zoo.json`` and
``bench/zoo/clip.png``; ``bench/zoo/logs/<row>.log`` holds each experiment's output.
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
from dataclasses import dataclass
from pathlib import Path

import cv2
import h5py
import numpy as np

from pyext.config import ADVERSARIAL_OBJECTIVES, load_params
from pyext.data.store import ClipArray, open_store
from pyext.evaluate import read_predictions
from pyext.metrics import motion_mask, psnr

OUT = Path("bench/zoo")
PREFIX = "zoo-"
# What the training log holds beside D's measures (pyext.training.steps): the zoo reports every
# other train/ curve as "how D is doing", whatever the objective names it.
_NOT_MEASURES = ("loss_", "lr_", "seconds")


@dataclass(frozen=True)
class Row:
    """One experiment: its name (``zoo-<name>`` in DVC) and the ``-S`` settings that make it."""

    name: str
    settings: tuple[str, ...]


# The options of the shipped objective, each a row: the feature-space loss through D's last layers
# (DeePSiM / VAE-GAN), SN-GAN's spectral norm with SAGAN's attention (SAGAN's pairing), DCGAN's
# batch norm, and DeePSiM's pause of D at the paper's threshold.
OPTION_ROWS = (
    Row("feature", ("loss.feature=100",)),  # L_feat is ~1e-3 at D's last layers, L_p ~0.1 (demo set)
    Row("sn-attention", ("model.d_norm=spectral", "model.attention=true")),
    Row("batchnorm", ("model.d_norm=batch",)),
    Row("pause", ("loss.adversarial.d_pause=0.1",)),
    Row("concat", ("model.condition=concat",)),
    Row("acgan", ("model.condition=acgan",)),
    Row("acgan-mod", ("model.condition=acgan", "loss.class_d=real")),
)


def rows(params_path: str = "params.yaml") -> list[Row]:
    """Every registered objective, then ``adv: 0``, a second seed of the shipped objective and the
    options of :data:`OPTION_ROWS`."""
    p = load_params(params_path)
    out = [Row(kind, (f"loss.adversarial.kind={kind}",)) for kind in ADVERSARIAL_OBJECTIVES]
    out.append(Row("adv0", ("loss.adv=0",)))
    out.append(Row(f"{p.loss.adversarial.kind}-seed{p.train.seed + 1}", (f"train.seed={p.train.seed + 1}",)))
    return out + list(OPTION_ROWS)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def _experiment_ref(name: str) -> str | None:
    """The git ref of experiment ``zoo-<name>`` based on the workspace's commit, or None."""
    head = _git("rev-parse", "HEAD").strip()
    base = f"refs/exps/{head[:2]}/{head[2:]}/{PREFIX}{name}"
    return base if _git("for-each-ref", "--format=%(refname)", base).strip() else None


def _extension() -> Path:
    built = sorted(Path("pyext").glob("_C*.so"))
    if not built:
        sys.exit("zoo: the extension is not built in pyext/ (run `make build` first)")
    return built[0]


def run_row(row: Row, extra: list[str]) -> tuple[bool, float]:
    """Runs one experiment (replacing an earlier one of the same name); returns (succeeded, seconds)."""
    name = PREFIX + row.name
    if _experiment_ref(row.name):
        subprocess.run(["dvc", "exp", "remove", name], check=True, capture_output=True)
    command = ["dvc", "exp", "run", "--temp", "-n", name, "-C", str(_extension())]
    for setting in (*row.settings, *extra):
        command += ["-S", setting]
    log = OUT / "logs" / f"{row.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log, "w") as f:
        done = subprocess.run(command, stdout=f, stderr=subprocess.STDOUT,
                              env={**os.environ, "BEYONDMSE_REQUIRE_NATIVE": "1"})
    return done.returncode == 0, time.perf_counter() - start


def _show(ref: str, path: str) -> str:
    return _git("show", f"{ref}:{path}")


def _curve(ref: str, path: str) -> np.ndarray:
    """A dvclive curve ``(steps, values)`` from a tsv of the experiment."""
    lines = _show(ref, path).splitlines()[1:]
    return np.array([[float(v) for v in line.split("\t")[:2]] for line in lines]).reshape(-1, 2)


def collect(row: Row) -> dict | None:
    """The experiment's figures, or None where it does not exist."""
    ref = _experiment_ref(row.name)
    if ref is None:
        return None
    metrics = json.loads(_show(ref, "eval/metrics.json"))
    live = json.loads(_show(ref, "dvclive/metrics.json"))
    folder = "dvclive/plots/metrics/train/"
    measures = {}
    for name in _git("ls-tree", "--name-only", ref, folder).split():
        stem = Path(name).name.removesuffix(".tsv")
        if name.endswith(".tsv") and not stem.startswith(_NOT_MEASURES):
            curve = _curve(ref, name)
            half = curve[curve[:, 0] > curve[-1, 0] / 2, 1]
            measures[stem] = float(half.mean())
    return {"row": row.name, "settings": list(row.settings), "ref": ref, "metrics": metrics,
            "d_measures": measures, "train_seconds": live["train"].get("seconds"),
            "val_psnr": live["val"]["psnr"]}


def _cell(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(results: list[dict]) -> str:
    """The markdown table: the baselines once (from the first experiment's evaluation; every
    experiment evaluates the same test clips), then one line per experiment."""
    head = ("| run | PSNR 1 | PSNR 2 | SSIM 1 | SSIM 2 | sharpness 1 | sharpness 2 | D's measure (mean, 2nd half) "
            "| train s |\n|---|---|---|---|---|---|---|---|---|\n")

    def line(label: str, m: dict, measure: str = "", seconds: float | None = None) -> str:
        s1, s2 = m["step1"], m["step2"]
        return (f"| {label} | {_cell(s1['psnr'])} | {_cell(s2['psnr'])} | {_cell(s1['ssim'], 3)} | "
                f"{_cell(s2['ssim'], 3)} | {_cell(s1['sharpness'])} | {_cell(s2['sharpness'])} | {measure} | "
                f"{_cell(seconds, 0)} |\n")

    first = results[0]["metrics"]
    body = line("last frame", first["last_frame"]) + line("optical flow", first["optical_flow"])
    for r in results:
        measure = ", ".join(f"{k} {v:.3f}" for k, v in sorted(r["d_measures"].items())) or "(no D)"
        body += line(f"`{r['row']}`", r["metrics"]["model"], measure, r["train_seconds"])
    return head + body


def _predictions(ref: str) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """An experiment's stored test predictions (per clip: (steps, h, w, 3)), the test clip indices
    and the crop origins (N, 2), read through DVC from its cache."""
    import dvc.api
    data = dvc.api.read("eval/predictions.h5", repo=".", rev=ref, mode="rb")
    with h5py.File(io.BytesIO(data), "r") as f:
        predictions, clip, origins = read_predictions(f)
        return [predictions[i] for i in range(len(predictions))], clip, origins


def _label(cell: np.ndarray, text: str) -> np.ndarray:
    """``cell`` with ``text`` in a white margin above it."""
    margin = np.full((22, cell.shape[1], 3), 255, np.uint8)
    cv2.putText(margin, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([margin, cell])


def picture(results: list[dict], test_path: Path, m: int, threshold: float, per_row: int = 4, crop: int = 64,
            zoom: int = 3) -> np.ndarray:
    """One test clip (the one with the largest moving region at step 1) predicted by every
    experiment: per method, the moving region's crop at steps 1 and 2, ``zoom`` times enlarged,
    labelled with the method's moving-region PSNR on this clip at step 1 (``m`` input frames)."""
    stored = [_predictions(r["ref"]) for r in results]
    first, indices, origins = stored[0]
    with open_store(test_path) as f:
        test = ClipArray(f)
        clips = [test.read(int(i), slice(0, m + 2), slice(top, top + p.shape[1]), slice(left, left + p.shape[2]))
                 for i, (top, left), p in zip(indices, origins, first)]
    masks = [np.stack([motion_mask(c[m + j - 1], c[m + j], threshold) for j in range(2)]) for c in clips]
    best = int(np.argmax([mask[0].sum() for mask in masks]))
    clip, mask = clips[best], masks[best]
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
    cells = [_label(cell(clip[m:m + 2]), "truth, steps 1 | 2"), _label(cell(last), f"last frame {score(last)}")]
    for r, (pred, _, _) in zip(results, stored):
        cells.append(_label(cell(pred[best]), f"{r['row']} {score(pred[best])}"))
    blank = np.full_like(cells[0], 255)
    cells += [blank] * (-len(cells) % per_row)
    gap = np.full((cells[0].shape[0], 12, 3), 255, np.uint8)
    lines = [np.concatenate([x for c in cells[i:i + per_row] for x in (c, gap)][:-1], axis=1)
             for i in range(0, len(cells), per_row)]
    spacer = np.full((12, lines[0].shape[1], 3), 255, np.uint8)
    return np.concatenate([x for line in lines for x in (line, spacer)][:-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated rows to run (default: all)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a -S setting for every row (e.g. train.steps=100); repeatable")
    parser.add_argument("--collect", action="store_true", help="do not run: tabulate existing experiments")
    args = parser.parse_args()
    every = rows()
    chosen = every
    if args.only:
        names = args.only.split(",")
        unknown = sorted(set(names) - {r.name for r in every})
        if unknown:
            parser.error(f"--only: unknown rows {', '.join(unknown)} (known: {', '.join(r.name for r in every)})")
        chosen = [r for r in every if r.name in names]
    if not args.collect:
        _extension()
        for i, row in enumerate(chosen):
            print(f"zoo: [{i + 1}/{len(chosen)}] {PREFIX}{row.name} ({' '.join(row.settings + tuple(args.set))})",
                  flush=True)
            ok, seconds = run_row(row, args.set)
            print(f"zoo:   {'done' if ok else 'FAILED'} in {seconds:.0f} s"
                  + ("" if ok else f" (see {OUT / 'logs' / (row.name + '.log')})"), flush=True)
    results = [c for c in (collect(r) for r in every) if c is not None]
    if not results:
        sys.exit("zoo: no zoo experiments to tabulate")
    params = load_params()
    OUT.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    (OUT / "zoo.json").write_text(json.dumps({"machine": machine, "set": args.set, "results": results}, indent=1))
    (OUT / "table.md").write_text(table(results))
    cv2.imwrite(str(OUT / "clip.png"), cv2.cvtColor(picture(results, Path("data/test.h5"), params.clip.input_frames,
                                                            params.evaluate.flow_threshold), cv2.COLOR_RGB2BGR))
    print(table(results))
    print(f"zoo: wrote {OUT / 'table.md'}, {OUT / 'zoo.json'}, {OUT / 'clip.png'}")


if __name__ == "__main__":
    main()
