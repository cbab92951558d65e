"""Training throughput: what each known lever gives the default, the paper and the GAIA steps and
the generators from noise (DCGAN, LAPGAN, VAE-GAN), alone and in a greedy cumulative combination,
in one process on the same batches; the time a real run spends outside its steps; and the data
loader's rate.

One step is what `dvc repro train` runs per step: for the predictor
(pyext.training.steps.multiscale.MultiScaleStep.step) a discriminator update on one batch, then a
generator update on the next, losses summed over the scales; for GAIA
(pyext.training.steps.gaia.GAIAStep.step) both autoencoders' updates from one forward pass; for a
generator from noise (pyext.training.steps.dcgan.DCGANStep.step and its subclasses) a discriminator
update and the generator's (LAPGAN: every level's; VAE-GAN: the encoder's and decoder's) on one
batch. LAPGAN's step builds the real Laplacian pyramid and upsamples each level's conditioning, so
its "reference ops" row is its step on the reference pyramid ops against the native ones.

The levers, each against the base step (eager, native ops, float32, contiguous, torch's threads):
- the reference ops (pyext.ops.reference_only) in place of the native ones;
- train.channels_last: true;
- train.precision: bfloat16 (autocast), measured on CPUs that multiply bfloat16 natively
  (AVX512-BF16 or AMX; elsewhere oneDNN emulates it, slower: --all measures it anyway);
- train.compile: true (inductor); its compile time is reported apart, with the steps after
  which it pays off; where it cannot compile (no C++ compiler) it says so in one line;
- one intra-op thread (torch.set_num_threads(1)), leaving a core to the DataLoader's worker.
Then the greedy combination: from the base, the levers in the order of their gain alone, each
kept where it makes the step at least 2% faster than the combination so far. Every ratio is to the
base step; repeats are round-robin, so every configuration sees the same machine.

--real N also trains N steps as `dvc repro train` does (pyext.training.loop.set_up and run_steps,
the default params, into a temporary folder) for the base and the fastest combination, and times
what it does outside its steps at the default intervals (a validation, the pictures, a checkpoint,
the loader's batches), each per step.

    python -m bench.train                          # presets: default (params.yaml), paper, gaia, dcgan, lapgan, vaegan
    python -m bench.train --presets lapgan --levers "reference ops"   # LAPGAN's step: native against reference ops
    python -m bench.train --presets default --real 100
    python -m bench.train --steps 5 --repeats 3 --presets gaia
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

import pyext
from pyext.config import FAMILIES, load_params
from pyext.data.dataset import ClipDataset
from pyext.files import DataFiles, RunFiles
from pyext.losses import CONDITIONS
from pyext.ops import reference_only
from pyext.presets import preset_params
from pyext.training import TrainingStep, make_step, run_steps, set_up
from pyext.training.arithmetic import native_bfloat16


@dataclass(frozen=True)
class Setting:
    """One configuration of the step: the levers it pulls."""

    reference: bool = False  # the reference ops in place of the native ones
    channels_last: bool = False
    bfloat16: bool = False
    compile: bool = False
    threads: int = 0  # intra-op threads (0: torch's default)

    def label(self) -> str:
        pulled = [name for name, on in (("reference ops", self.reference), ("channels-last", self.channels_last),
                                        ("bf16 autocast", self.bfloat16), ("torch.compile", self.compile),
                                        (f"{self.threads} thread", self.threads)) if on]
        return " + ".join(pulled) or "base: eager, native ops, float32, contiguous"

    def params(self, p):
        """``p`` with this setting's train keys."""
        return replace(p, train=replace(p.train, channels_last=self.channels_last, compile=self.compile,
                                        precision="bfloat16" if self.bfloat16 else "float32"))


# Each lever as the change it makes to a setting.
LEVERS = {
    "reference ops": lambda s: replace(s, reference=True),
    "channels-last": lambda s: replace(s, channels_last=True),
    "bf16 autocast": lambda s: replace(s, bfloat16=True),
    "torch.compile": lambda s: replace(s, compile=True),
    "1 thread": lambda s: replace(s, threads=1),
}


def loader_rate(path: Path, workers: int, batch_size: int = 8, batches: int = 200) -> float:
    """Samples per second a shuffled DataLoader over ``path`` delivers (after its first batch)."""
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


# The families whose preset (configs/<family>.yaml) bench.train times besides the default and the paper's.
PRESET_FAMILIES = ("gaia", "dcgan", "lapgan", "vaegan", "biggan", "gran", "icgan", "inversion", "cyclegan", "discogan",
                   "dualgan")


def presets(path: str = "params.yaml"):
    """The presets the README documents: the default (``params.yaml``), the paper's
    (``configs/paper.yaml`` applied to it: Table 1 at full width, batch 8, 32x32 patches) and each
    of :data:`PRESET_FAMILIES`' (``configs/<family>.yaml``: GAIA's; DCGAN's, LAPGAN's, VAE-GAN's, BigGAN's, GRAN's,
    IcGAN's and the inversion's, batch 64; the translators', CycleGAN's, DiscoGAN's and DualGAN's, their papers'
    batches per domain)."""
    return {"default": load_params(path), "paper": preset_params("configs/paper.yaml", path),
            **{family: preset_params(f"configs/{family}.yaml", path) for family in PRESET_FAMILIES}}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


@contextlib.contextmanager
def _applied(setting: Setting):
    """The process-wide part of ``setting``: the ops and the threads."""
    threads = torch.get_num_threads()
    if setting.threads:
        torch.set_num_threads(setting.threads)
    try:
        with reference_only() if setting.reference else contextlib.nullcontext():
            yield
    finally:
        torch.set_num_threads(threads)


# A class-conditioned preset's (IcGAN's) batches are labelled round this many classes: a step's time
# hardly depends on their number, and the bench's store need not be the preset's source.
BENCH_CLASSES = 4


def time_steps(trainer: TrainingStep, batches: list[torch.Tensor], steps: int,
               labels: list[torch.Tensor] | None = None) -> float:
    """Seconds per step over ``steps`` steps (after one warm-up step), on ``batches`` of classes
    ``labels`` (None: unconditioned)."""
    trainer.step(0, batches, labels)
    _sync(trainer.device)
    start = time.perf_counter()
    for i in range(steps):
        trainer.step(i, batches, labels)
    _sync(trainer.device)
    return (time.perf_counter() - start) / steps


class Bench:
    """The trainers of one preset's settings, built once each, timed on the same batches."""

    def __init__(self, p, device: torch.device, data: ClipDataset, steps: int):
        self.p, self.device, self.steps = p, device, steps
        self.trainers: dict[Setting, TrainingStep] = {}
        self.compile_seconds: dict[Setting, float] = {}
        self.failed: dict[Setting, str] = {}
        self.data, self.batches = data, None  # the batches: made once the first trainer says how many
        self.classes = BENCH_CLASSES if CONDITIONS[p.model.condition].needs_classes else 0
        self.labels = None  # the batches' classes, where conditioned
        self.times: dict[Setting, list[float]] = {}

    def add(self, setting: Setting) -> bool:
        """Builds ``setting``'s trainer (and compiles it: the first steps, timed); False where it
        cannot run, with the reason in ``failed``."""
        if setting in self.trainers or setting in self.failed:
            return setting in self.trainers
        with _applied(setting):
            trainer = make_step(setting.params(self.p), self.device, compile=setting.compile, classes=self.classes)
            if self.batches is None:
                b = self.p.train.batch_size
                rows = 2 * b if FAMILIES[self.p.model.family].domains else b  # a translator's: each domain's clips
                self.batches = [torch.stack([self.data[i] for i in range(k * rows, (k + 1) * rows)]).to(self.device)
                                for k in range(trainer.batches_per_step)]
                if self.classes:
                    self.labels = [torch.arange(b, device=self.device) % self.classes] * trainer.batches_per_step
            if setting.compile:
                try:
                    start = time.perf_counter()
                    for i in range(2):  # the first steps compile (D's update, then G's)
                        trainer.step(i, self.batches, self.labels)
                    _sync(self.device)
                    first = time.perf_counter() - start
                except Exception as exc:  # inductor without a C++ compiler, ...
                    self.failed[setting] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
                    print(f"torch.compile cannot run here ({self.failed[setting]}); its rows are left out",
                          flush=True)
                    return False
                self.compile_seconds[setting] = first  # two steps and the compiling: see compile_time
        self.trainers[setting] = trainer
        self.times[setting] = []
        return True

    def time(self, settings: list[Setting], repeats: int) -> dict[Setting, float]:
        """Adds ``repeats`` timings of each of ``settings``, round-robin; returns the median of
        these new timings of each (a comparison made in one sitting)."""
        new = {setting: [] for setting in settings}
        for _ in range(repeats):
            for setting in settings:
                with _applied(setting):
                    new[setting].append(time_steps(self.trainers[setting], self.batches, self.steps, self.labels))
        for setting, times in new.items():
            self.times[setting] += times
        return {setting: statistics.median(times) for setting, times in new.items()}

    def seconds(self, setting: Setting) -> float:
        return statistics.median(self.times[setting])

    def compile_time(self, setting: Setting, per_step: float) -> float:
        """Seconds ``setting``'s compilation took: its first two steps less two steps of
        ``per_step`` seconds."""
        return self.compile_seconds[setting] - 2 * per_step


def greedy(bench: Bench, base: Setting, levers: list[str], repeats: int, budget: int,
           gain: float = 1.02) -> tuple[list[Setting], Setting]:
    """The cumulative combinations: from ``base``, each lever of ``levers`` (best first) kept where
    it makes the step ``gain`` times faster than the combination so far, timed side by side, and for
    torch.compile where its compile time is also paid back within ``budget`` steps. Returns the
    combinations tried (kept or not) and the last kept. The table's figures are the medians of all
    of a configuration's timings, so a kept lever's row may differ from that comparison's."""
    current, tried = base, []
    for name in levers:
        candidate = LEVERS[name](current)
        if not bench.add(candidate):
            continue
        pair = bench.time([current, candidate], repeats)  # decided on these timings, side by side
        tried.append(candidate)
        saved = pair[current] - pair[candidate]
        pays = candidate not in bench.compile_seconds or saved * budget > bench.compile_time(candidate, pair[candidate])
        if pair[current] / pair[candidate] >= gain and pays:
            current = candidate
    return tried, current


def run_preset(name: str, p, device: torch.device, data: ClipDataset, args) -> Setting:
    """Prints the lever table of preset ``name``; returns its fastest combination."""
    bench = Bench(p, device, data, args.steps)
    base = Setting()
    family, b = p.model.family, p.train.batch_size
    width = getattr(p.model, family).width
    bf16 = native_bfloat16(device) or args.all
    alone = {lever: LEVERS[lever](base) for lever in args.levers if bf16 or lever != "bf16 autocast"}
    if not bf16:
        print(f"({name}: bf16 autocast not measured: this CPU has neither AVX512-BF16 nor AMX; --all measures it)")
    for setting in [base, *alone.values()]:
        bench.add(setting)
    measured = [s for s in [base, *alone.values()] if s in bench.trainers]
    bench.time(measured, args.repeats)
    rows = [("alone", base)] + [("alone", s) for s in alone.values() if s in bench.trainers]
    speedups = sorted((lever for lever, s in alone.items() if s in bench.trainers and lever != "reference ops"),
                      key=lambda lever: bench.seconds(alone[lever]))
    faster = [lever for lever in speedups if bench.seconds(alone[lever]) < bench.seconds(base)]
    path, fastest = greedy(bench, base, faster, args.repeats, p.train.steps)
    t0 = bench.seconds(base)
    rows += [("combined", s) for s in path]
    print(f"\n{name} ({family}, width {width:g}, batch {b}):")
    print("| preset | | configuration | ms/step | steps/s | vs base |")
    print("|---|---|---|---|---|---|")
    for kind, setting in rows:
        t = bench.seconds(setting)
        mark = " (kept)" if setting == fastest and (kind == "combined" or setting == base) else ""
        print(f"| {name} | {kind} | {setting.label()}{mark} | {t * 1e3:.1f} | {1 / t:.2f} | {t0 / t:.2f}x |",
              flush=True)
    for setting in bench.compile_seconds:
        compile_s = bench.compile_time(setting, bench.seconds(setting))
        eager = replace(setting, compile=False)
        saving = bench.seconds(eager) - bench.seconds(setting) if eager in bench.times else float("nan")
        pays = f"pays off after {compile_s / saving:.0f} steps" if saving > 0 else "never pays off (no faster step)"
        print(f"torch.compile ({setting.label()}): {compile_s:.1f} s to compile, {saving * 1e3:.1f} ms/step saved: "
              f"{pays} (train.steps: {p.train.steps})")
    return fastest


def outside_steps(p, settings: list[Setting], device: torch.device, real: int) -> None:
    """Trains ``real`` steps as the train stage does, for the base and the fastest setting; prints
    seconds per step, and what the run does outside its steps, per step at the default intervals."""
    print(f"\nA real run ({real} steps, pyext.training.loop, the default params):")
    print("| configuration | train.workers | s/step of the run | s/step of the steps alone |")
    print("|---|---|---|---|")
    for setting, workers in ((s, w) for s in settings for w in sorted({0, p.train.workers})):
        q = setting.params(replace(p, train=replace(p.train, steps=real, workers=workers)))
        with tempfile.TemporaryDirectory() as d, _applied(setting):
            r = set_up(q, DataFiles(Path("data")), RunFiles(Path(d) / "models", Path(d) / "live"))
            start = time.perf_counter()
            run_steps(r, progress=False)
            run = (time.perf_counter() - start) / real
            trainer = r.trainer
            batches = [r.val_batches[0][0].to(device)] * trainer.batches_per_step
            alone = time_steps(trainer, batches, 5)
            extra = {"a validation": (lambda: trainer.validate(r.val_batches), q.train.val_every),
                     "the pictures": (lambda: trainer.pictures(r.val_batches[0]), q.train.image_every),
                     "a checkpoint": (lambda: torch.save(trainer.state(), Path(d) / "c.pt"),
                                      q.train.checkpoint_every)}
            costs = {}
            for what, (do, every) in extra.items():
                start = time.perf_counter()
                do()
                costs[what] = ((time.perf_counter() - start), every)
        print(f"| {setting.label()} | {workers} | {run:.3f} | {alone:.3f} |")
        print("  outside the steps, per step: " + "; ".join(
            f"{what} {s * 1e3:.0f} ms every {every} steps = {s / every * 1e3:.1f} ms"
            for what, (s, every) in costs.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", default="data/train.h5", help="store the batches come from")
    parser.add_argument("--steps", type=int, default=5, help="steps per timing")
    parser.add_argument("--repeats", type=int, default=3, help="timings per configuration (median)")
    parser.add_argument("--presets", nargs="+", default=["default", "paper", *PRESET_FAMILIES])
    parser.add_argument("--batch", type=int, default=0, help="clips per batch (0: each preset's train.batch_size)")
    parser.add_argument("--all", action="store_true", help="measure bf16 autocast also where it is emulated")
    parser.add_argument("--levers", nargs="+", choices=list(LEVERS), default=list(LEVERS), help="levers to measure")
    parser.add_argument("--real", type=int, default=0, metavar="N",
                        help="also train N steps of the default preset as the train stage does")
    args = parser.parse_args()
    # A cold compile, as on a fresh machine (inductor's caches would hide the compile time).
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="bench-inductor-"))
    if not pyext.native_available():
        raise SystemExit(f"the native ops are not built: {pyext.native_error()}")
    configurations = presets()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = ClipDataset(args.train)
    print(f"device: {torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}, native bfloat16: {native_bfloat16(device)}")
    fastest = {}
    for name in args.presets:
        p = configurations[name]
        if args.batch:
            p = replace(p, train=replace(p.train, batch_size=args.batch))
        fastest[name] = run_preset(name, p, device, data, args)
    if args.real:
        p = configurations["default"]
        outside_steps(p, list(dict.fromkeys([Setting(), fastest.get("default", Setting())])), device, args.real)
    print(f"\nData loader alone ({args.train}, batch 8, 2 workers): {loader_rate(Path(args.train), 2):.0f} samples/s; "
          "a predictor's step consumes two batches, GAIA's and a generator from noise's one (bce).")


if __name__ == "__main__":
    main()
