"""A battle of two experiments' generators by the Generative Adversarial Metric (GAM; Im et al. 2016,
section 5: :mod:`pyext.evaluation.gam`), e.g. two rows of the generation zoo: each experiment's run
folder (its ``params.yaml``, and its trained generator and checkpoint read from DVC's cache) is laid
out apart, and the two runs battle on the workspace's test clips, which must be the data both
experiments ran on.

    python -m experiments.battle generation-gran generation-bce          # rows of this commit's zoo
    python -m experiments.battle generation-gran generation-bce@690bf3a  # a row of another commit's zoo

Writes ``experiments/results/gam/<A>-vs-<B>.json``: the GAM's result with the machine, the commit,
the data and which experiments battled (``--out`` elsewhere).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

from experiments import runner
from experiments.runner import DATA_FILES, git, lock_data, machine, show
from pyext.evaluation.gam import compare_runs, table
from pyext.files import Layout, write_json

# What `beyondmse battle` says of itself in `beyondmse --help`.
HELP = "two experiments' generators battle by the Generative Adversarial Metric (GAM), e.g. zoo rows"
RESULTS = Path("experiments/results/gam")


def resolve(name: str) -> tuple[str, str]:
    """An experiment ``NAME`` (based on the workspace's commit) or ``NAME@COMMIT``: its git ref and its
    base commit (40 hex digits).

    Raises:
        ValueError: no such commit or experiment.
    """
    exp, _, commit = name.partition("@")
    try:
        base = git("rev-parse", "--verify", f"{commit or 'HEAD'}^{{commit}}").strip()
    except Exception:
        raise ValueError(f"{name}: no commit {commit!r} in this repository") from None
    ref = f"refs/exps/{base[:2]}/{base[2:]}/{exp}"
    if not git("for-each-ref", "--format=%(refname)", ref).strip():
        raise ValueError(f"{name}: no experiment {exp!r} based on commit {base[:7]} (`dvc exp list --all-commits`)")
    return ref, base


def _merged(today: dict, then: dict) -> dict:
    """``then``'s params over ``today``'s: every key ``then`` holds keeps its value, a key added since
    takes today's (a section of a family added later, which the experiment's family does not read)."""
    return {key: _merged(value, then[key]) if isinstance(value, dict) and isinstance(then.get(key), dict)
            else then.get(key, value) for key, value in today.items()} | {k: v for k, v in then.items() if k not in today}


def lay_out(ref: str, folder: Path) -> Path:
    """The run folder of experiment ``ref`` in ``folder``: its params file (keys added to
    ``params.yaml`` since it ran filled in with today's values: :func:`_merged`; the checkpoint's
    identity, which hashes only what the family reads, tells whether that changed the run), and its
    generator and checkpoint read from DVC's cache (the paths :class:`pyext.files.Layout` names).
    Returns ``folder``."""
    run = Layout(folder).train
    run.generator.parent.mkdir(parents=True, exist_ok=True)
    params = _merged(yaml.safe_load(Path("params.yaml").read_text()), yaml.safe_load(show(ref, "params.yaml")))
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for path in (run.generator, run.checkpoint):
        inside = path.relative_to(folder).as_posix()
        path.write_bytes(runner.read_output(ref, inside).read())
    return folder


def main(argv: list[str] | None = None, prog: str = "python -m experiments.battle") -> None:
    """``python -m experiments.battle A B [--out FILE] [--seed N]`` (``argv``: the arguments, None:
    the command line's)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("a", metavar="A", help="an experiment, NAME or NAME@COMMIT (e.g. generation-gran)")
    parser.add_argument("b", metavar="B", help="the other experiment")
    parser.add_argument("--out", type=Path, default=None, help=f"the record (default: {RESULTS}/A-vs-B.json)")
    parser.add_argument("--seed", type=int, default=0, help="the samples' and resamples' seed (default: 0)")
    args = parser.parse_args(argv)
    test = Layout().data.test
    try:
        (ref_a, base_a), (ref_b, base_b) = resolve(args.a), resolve(args.b)
        today = lock_data(Path("dvc.lock").read_text()).get(test.as_posix())
        locks = {name: lock_data(show(ref, "dvc.lock")) for name, ref in ((args.a, ref_a), (args.b, ref_b))}
        ran = {name: lock.get(test.as_posix()) for name, lock in locks.items()}
        if any(md5 != today for md5 in ran.values()):
            raise ValueError(f"{test}: the workspace's test clips (dvc.lock md5 {today}) are not those the experiments "
                             f"ran on ({', '.join(f'{k}: {v}' for k, v in ran.items())}); run `dvc repro` on their data")
        out = args.out or RESULTS / f"{args.a.split('@')[0]}-vs-{args.b.split('@')[0]}.json"
        with tempfile.TemporaryDirectory(prefix="battle-") as tmp:
            a, b = (lay_out(ref, Path(tmp) / side) for ref, side in ((ref_a, "a"), (ref_b, "b")))
            result = compare_runs(a, b, Path(tmp) / "gam.json", test, a / "params.yaml", seed=args.seed)
    except (ValueError, OSError) as exc:
        sys.exit(f"{prog}: {exc}")
    source = yaml.safe_load(show(ref_a, "params.yaml"))["data"]["source"]
    for side, name, ref, base in (("A", args.a, ref_a, base_a), ("B", args.b, ref_b, base_b)):
        result["runs"][side] |= {"folder": None, "experiment": name.split("@")[0], "ref": ref, "base": base}
    first, second = ({path: lock.get(path) for path in DATA_FILES} for lock in locks.values())
    data = ({"source": source, "md5": first, "from": "the experiments' dvc.lock"} if first == second else
            {"source": source, "md5": None, "reason": f"the two experiments trained on different data (both tested on "
                                                       f"{test} md5 {today})"})
    record = {"machine": machine(), "commit": git("rev-parse", "HEAD").strip(), "data": data, "set": [], **result}
    write_json(out, record)
    print(table(result))
    print(f"{result['verdict_line']}; written to {out}")


if __name__ == "__main__":
    main()
