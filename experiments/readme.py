"""The README's tables that come from result files, written from those files.

Each such table sits in README.md between a marker naming its file and view and an end marker:

    <!-- from: experiments/results/zoo/zoo.json zoo -->
    (what VIEWS["zoo"] renders from that file)
    <!-- /from -->

A block says beside its table which commit and which data (DVC's md5s) the figures were made with,
and whether today's ``dvc.lock`` records other data: a table can match its file and still not be
what the command gives today.

    python -m experiments.readme            # rewrites every block of README.md from its file
    python -m experiments.readme --check    # only lists the blocks that differ (exit status 1)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import yaml

from experiments import (claim, editing, footage_study, generation, inversion, motion_study, table2, translation,
                         zoo)
from experiments.runner import DATA_FILES, lock_data

# What `beyondmse readme` says of itself in `beyondmse --help`.
HELP = "the README's result tables, written from their result files (--check: compare only)"

README = Path("README.md")
BLOCK = re.compile(r"^<!-- from: (?P<path>\S+) (?P<view>\S+) -->\n(?P<body>.*?)^<!-- /from -->$", re.M | re.S)


def _para(text: str) -> str:
    """A paragraph wrapped as the README's prose is (100 columns), never inside `inline code` nor
    before a lone ``*`` (a line starting ``* `` would be a list item)."""
    kept = re.sub(r"`[^`]*`", lambda code: code.group().replace(" ", "\0"), text).replace(" * ", "\0* ")
    return textwrap.fill(kept, 100, break_long_words=False, break_on_hyphens=False).replace("\0", " ")


def _md5s(digests: dict[str, str]) -> str:
    """``data/train.h5 9a89f580, ...``: DVC md5s shortened as git shortens commits."""
    return ", ".join(f"{path} {md5[:8]}" for path, md5 in digests.items())


def data_line(data: dict, command: str, root: Path) -> str:
    """Which data a record's figures were made with, against what ``dvc.lock`` under ``root`` records
    today; ``data``: a record's ``data`` (:func:`experiments.runner.data_record`)."""
    source = data["source"]
    if data["md5"] is None:
        return (f"Data: the {source} set, digests unknown: {data['reason']}. Whether today's {source} data are the "
                f"same cannot be checked, so these figures may not be what `{command}` gives today.")
    made = f"Data: the {source} set, DVC md5s {_md5s(data['md5'])}; digests from {data['from']}."
    lock = (root / "dvc.lock").read_text()
    prepared = yaml.safe_load(lock)["stages"].get("prepare", {}).get("params", {}).get("params.yaml", {})
    today_source = prepared.get("data", {}).get("source")
    if today_source is not None and today_source != source:  # the workspace holds another set: nothing to compare
        return f"{made} Today's `dvc.lock` is of the {today_source} set, so it cannot say whether these are today's."
    today = lock_data(lock)
    other = {path: today.get(path, "none") for path, md5 in data["md5"].items() if today.get(path) != md5}
    if not other:
        return f"{made} Today's `dvc.lock` records the same data."
    return (f"{made} **Today's {source} data differ** (`dvc.lock`: {_md5s(other)}): these figures are not what "
            f"`{command}` gives today.")


def made_line(record: dict, command: str, root: Path, machine: bool = True) -> str:
    """The commit, settings and (``machine``) machine a study's record was made with, then its data."""
    where = f" on {record['machine']}" if machine else ""
    settings = ", ".join(f"`{s}`" for s in record["set"] + [f"--base {b}" for b in record.get("base", [])])
    every = f" (for every row: {settings})" if settings else ""
    made = f"Made by `{command}` at commit {record['commit'][:7]}{where}{every}."
    return f"{made} {data_line(record['data'], command, root)}"


def seed_pairs(results: list[dict]) -> list[tuple[dict, dict]]:
    """Each row run again with another ``train.seed`` (``<row>-seed<n>``), beside its row."""
    by_name = {r["row"]: r for r in results}
    return [(by_name[r["row"].rsplit("-seed", 1)[0]], r) for r in results
            if "-seed" in r["row"] and r["row"].rsplit("-seed", 1)[0] in by_name]


def _gap(a: dict, b: dict, key: str) -> str:
    """|a - b| of a PSNR at steps 1 and 2 of two rows' models."""
    return " and ".join(f"{abs(a['metrics']['model'][f'step{s}'][key] - b['metrics']['model'][f'step{s}'][key]):.2f}"
                        for s in (1, 2))


def zoo_block(record: dict, root: Path) -> str:
    """A zoo record: how it was made, its table, the noise floor and, for ACGAN rows, D's class head."""
    results = record["results"]
    lines = [_para(made_line(record, "make zoo", root)), "", zoo.table(results).rstrip("\n")]
    notes = [f"Noise floor: `{a['row']}` and `{b['row']}` differ by {_gap(a, b, 'psnr')} dB at steps 1 and 2."
             for a, b in seed_pairs(results)]
    heads = [(r["row"], r["metrics"]["class_head"]) for r in results if r["metrics"].get("class_head")]
    if heads:
        first = heads[0][1]
        notes.append("D's class head at the end of training names the class of "
                     + ", ".join(f"{h['accuracy']:.1%} (`{row}`)" for row, h in heads)
                     + f" of {first['patches']} moving test patches; chance {first['chance']:.1%}, always the "
                       f"commonest class {first['commonest_class']:.1%}.")
    return "\n".join(lines + [line for note in notes for line in ("", _para(note))])


def table2_block(record: dict, root: Path) -> str:
    """Table 2's record: how it was made and its caption, both measures and the noise floor."""
    results = record["results"]
    parts = [_para(made_line(record, "make table2", root, machine=False) + " " + table2.caption(record))]
    for title, prefix in table2.MEASURES:
        parts.append(f"{_para(f'By {title}:')}\n\n{table2.table(results, prefix).rstrip()}")
    for a, b in seed_pairs(results):
        parts.append(_para(f"Noise floor: {a['label']} and {b['label']} differ by {_gap(a, b, 'authors_psnr')} dB at "
                           f"steps 1 and 2 by the authors' measure, {_gap(a, b, 'psnr')} by the moving-region mean."))
    return "\n\n".join(parts)


def claim_block(record: dict, root: Path) -> str:
    """The claim's record: how it was made, its table and the noise floor of the measures that tell
    blur from sharpness (the step-1 PSNR, gradient-energy ratio and commit share of each seed pair)."""
    results = record["results"]
    lines = [_para(made_line(record, "make claim", root)), "", claim.table(results).rstrip("\n")]

    def futures(r: dict, key: str) -> float | None:
        return r["metrics"].get("futures", {}).get("step1", {}).get("model", {}).get(key)

    for a, b in seed_pairs(results):
        gaps = [f"PSNR {abs(a['metrics']['model']['step1']['psnr'] - b['metrics']['model']['step1']['psnr']):.2f} dB"]
        for key, label in (("gradient_ratio", "gradient ratio"), ("commit_share", "commit share")):
            if futures(a, key) is not None and futures(b, key) is not None:
                gaps.append(f"{label} {abs(futures(a, key) - futures(b, key)):.3f}")
        lines += ["", _para(f"Noise floor: `{a['row']}` and `{b['row']}` differ by {', '.join(gaps)} at step 1.")]
    return "\n".join(lines)


def footage_block(record: dict, root: Path) -> str:
    """The footage study's record: how it was made, on which clips, its table, and how often the
    verdict's sign was the test's."""
    results = record["results"]
    where = f"at commit {record['commit'][:7]} on {record['machine']} in {record['minutes']:.0f} min"
    settings = ", ".join(f"`{s}`" for s in record["set"])
    pretrained = record.get("pretrained", False)
    command = ("beyondmse footage-study" + (" --aside-run" if record["aside_run"] else "")
               + (" --pretrained" if pretrained else ""))
    clips = "; ".join(f"{c['name']} ({c['package']}, {c['frames']} frames, {c['segments']} segments, SHA-256 "
                      f"{c['clip_sha256'][:12]})" for c in record["footage"])
    made = _para(f"Made by `{command}` {where}" + (f" (for every run: {settings})" if settings else "")
                 + f". The clips: {clips}.")
    table = footage_study.table(results).rstrip("\n")
    if pretrained:  # nothing trained: no verdict to compare with
        return "\n".join([made, "", table])
    agree = sum(map(footage_study.signs_agree, results))
    note = _para(f"The verdict's sign (validation on held-out videos of the training sources) was the test's, at "
                 f"step 1 on moving regions and whole frames, in {agree} of {len(results)} runs.")
    return "\n".join([made, "", table, "", note])


def pretrained_block(card: dict, root: Path) -> str:
    """The shipped pretrained predictor's card: what it trained on, how long, where, and what it
    scores on the photo set's test videos against copying the last frame and optical flow."""
    p, data = card["params"], card["data"]
    photos, train = p["photos"], p["train"]
    videos = photos["classes"] * photos["groups"] * photos["clips_per_group"]
    tested = photos["classes"] * photos["test_groups"] * photos["clips_per_group"]
    test = card["photo_set_test"]
    model, last, flow = (test[m]["step1"] for m in ("model", "last_frame", "optical_flow"))
    model2, last2 = (test[m]["step2"] for m in ("model", "last_frame"))
    kept = card["validation"]
    resumed = card.get("resumed")
    resumed = f"; {resumed['how']}" if resumed else ""
    return "\n".join([
        _para(f"Trained by `{card['command'].replace('python -m experiments.pretrain', 'beyondmse pretrain')}` at "
              f"commit {card['commit'][:7]} on {card['machine']} (torch {card['torch']}) in {card['minutes']:.0f} min "
              f"({card['seconds']['train'] / 60:.0f} of them training{resumed}): the photo set with all "
              f"{photos['classes']} camera motions at `photos.version` {photos.get('version', 1)}, "
              f"{videos - tested} training videos of {photos['frames']} frames "
              f"({data['filter']['train'] + data['filter']['val']:,} moving patches kept of "
              f"{data['filter']['candidates']:,}: {data['filter']['train']:,} from {data['filter']['train_videos']} "
              f"videos for training, {data['filter']['val']:,} from {data['filter']['val_videos']} held out for "
              f"validation) and {tested} test "
              f"videos of photographs no training video shows; {train['steps']:,} steps of {train['batch_size']} clips "
              f"({train['steps'] * train['batch_size'] / data['filter']['train']:.0f} passes over the patches), kept "
              f"the generator of step {kept['step']}. The file is {card['bytes'] / 2**20:.1f} MiB, SHA-256 "
              f"{card['sha256'][:12]}."),
        "",
        _para(f"On the photo set's {test['clips']} test clips, at step 1: moving regions {model['moving']:.2f} dB "
              f"against {last['moving']:.2f} for copying the last frame ({model['moving'] - last['moving']:+.2f}) and "
              f"{flow['moving']:.2f} for optical flow; whole frames {model['whole']:.2f} against {last['whole']:.2f} "
              f"({model['whole'] - last['whole']:+.2f}). At step 2: moving regions {model2['moving'] - last2['moving']:+.2f} "
              f"dB, whole frames {model2['whole'] - last2['whole']:+.2f}."),
    ])


def motion_block(record: dict, root: Path) -> str:
    """The motion study's record: how it was made, then its table."""
    made = _para(f"Made by `beyondmse motion-study` at commit {record['commit'][:7]} on {record['machine']} in "
                 f"{record['minutes']:.0f} min: the motion scores of {record['crops']} random {record['patch']}x"
                 f"{record['patch']} patches of every {record['stride']}th {record['clip']}-frame clip (the filter's, "
                 f"0..255; `filter.min_motion` {record['min_motion']:g}) and the optical-flow magnitude between each "
                 f"clip's last input frame and its target (every {record['flow_step']}th pixel; moving above "
                 f"`evaluate.flow_threshold` {record['flow_threshold']:g} px), at {record['size'][1]}x"
                 f"{record['size'][0]}.")
    return "\n".join([made, "", motion_study.table(record["sets"], record["min_motion"],
                                                   record["flow_threshold"]).rstrip("\n")])


def published_block(path: Path, root: Path) -> str:
    """Table 2 as the paper publishes it (:data:`experiments.table2.PAPER`)."""
    return table2.published().rstrip()


def _lock_output(root: Path, path: str) -> str | None:
    """The md5 ``dvc.lock`` records for an output of a stage."""
    stages = yaml.safe_load((root / "dvc.lock").read_text())["stages"].values()
    return next((out["md5"] for stage in stages for out in stage.get("outs", []) if out["path"] == path), None)


def demo_made(path: Path, root: Path) -> str:
    """Which run the committed metrics are: the evaluate output ``dvc.lock`` records, and its data."""
    name = path.relative_to(root).as_posix()
    recorded, actual = _lock_output(root, name), hashlib.md5(path.read_bytes()).hexdigest()
    if recorded != actual:
        return (f"`{name}` (md5 {actual[:8]}) is not the output `dvc.lock` records ({(recorded or 'none')[:8]}): "
                f"run `dvc repro`, or `dvc commit` a run of its own.")
    data = lock_data((root / "dvc.lock").read_text())
    return (f"The committed `{name}`: the evaluate output that `dvc.lock` records (md5 {recorded[:8]}), made on the "
            f"data it records: DVC md5s {_md5s({p: data[p] for p in DATA_FILES})}.")


def _scores(metrics: dict) -> tuple[str, str, str]:
    """Moving-region PSNR (SSIM) at steps 1 and 2, whole-frame PSNR at steps 1 / 2."""
    s1, s2 = metrics["step1"], metrics["step2"]
    return (f"{s1['psnr']:.2f} ({s1['ssim']:.3f})", f"{s2['psnr']:.2f} ({s2['ssim']:.3f})",
            f"{s1['psnr_full']:.2f} / {s2['psnr_full']:.2f}")


METHODS = (("model", "model"), ("last_frame", "last frame"), ("optical_flow", "optical flow"))


def demo_block(path: Path, root: Path) -> str:
    """The demo run's metrics against both baselines: PSNR (SSIM) on moving regions, whole frames."""
    metrics = json.loads(path.read_text())
    rows = "".join(f"| {label} | {' | '.join(_scores(metrics[key]))} |\n" for key, label in METHODS)
    head = f"| {metrics['clips']} test clips | step 1 | step 2 | whole frame, step 1 / step 2 |\n|---|---|---|---|\n"
    return f"{_para(demo_made(path, root))}\n\n{head}{rows}".rstrip()


def demo_summary(path: Path, root: Path) -> str:
    """The demo run in one sentence, for the README's opening."""
    m = json.loads(path.read_text())
    model, last, flow = (m[key] for key, _ in METHODS)
    return _para(f"On its {m['clips']} test clips, moving-region PSNR at step 1 is {model['step1']['psnr']:.1f} dB "
                 f"for the model against {last['step1']['psnr']:.1f} dB for copying the last frame (step 2: "
                 f"{model['step2']['psnr']:.1f} against {last['step2']['psnr']:.1f}; whole frames "
                 f"{model['step1']['psnr_full']:.1f} against {last['step1']['psnr_full']:.1f}); optical flow "
                 f"reaches {flow['step1']['psnr']:.1f} dB.")


def generation_block(record: dict, root: Path) -> str:
    """The generation zoo's record: how it was made, its table, the noise floor (the FID of the two
    seeds of one row), the best row's FID against its untrained generator's, and which DCGAN rows lie
    within the noise floor of the best DCGAN row."""
    results = record["results"]
    parts = [_para(made_line(record, "make generation", root) + " " + generation.caption(record)),
             generation.table(results).rstrip("\n")]

    def fid(r: dict, name: str = "generator") -> float:
        return r["metrics"]["fid"][name]

    floors = [(a, b, abs(fid(a) - fid(b))) for a, b in seed_pairs(results)]
    for a, b, gap in floors:
        parts.append(_para(f"Noise floor: `{a['row']}` and `{b['row']}`, the same run but for `train.seed`, differ "
                           f"by {gap:.2f} in FID ({fid(a):.2f} and {fid(b):.2f})."))
    scored = [r for r in results if "fid" in r["metrics"]]
    if scored:
        best = min(scored, key=fid)
        parts.append(_para(f"Best row: `{best['row']}`, FID {fid(best):.2f} against {fid(best, 'untrained'):.2f} for "
                           f"its untrained generator ({fid(best) / fid(best, 'untrained'):.2f} of it); the real "
                           f"frames blurred score {fid(best, 'blurred'):.2f}, with noise {fid(best, 'noisy'):.2f}."))
        dcgan = [r for r in scored if r["metrics"]["family"] == "dcgan" and "-seed" not in r["row"]]
        if floors and dcgan:
            floor, first = max(gap for _, _, gap in floors), min(dcgan, key=fid)
            near = [r["row"] for r in dcgan if fid(r) - fid(first) <= floor]
            parts.append(_para(f"Within the noise floor ({floor:.2f}) of the best DCGAN objective "
                               f"(`{first['row']}`, {fid(first):.2f}): " + ", ".join(f"`{n}`" for n in near)
                               + f"; {len(dcgan) - len(near)} of the {len(dcgan)} objectives lie beyond it."))
    return "\n\n".join(parts)


def inversion_block(record: dict, root: Path) -> str:
    """The inversion study's record: how it was made, its table, DeePSiM beside pixel-loss-only per layer."""
    return "\n\n".join([_para(made_line(record, "python -m experiments.inversion", root) + " "
                                + inversion.caption(record)), inversion.table(record["results"]).rstrip("\n"),
                         *map(_para, inversion.comparison(record["results"]))])


def editing_block(record: dict, root: Path) -> str:
    """The editing study's record: how it was made, the generation table, each row's reconstructions
    and edits."""
    return "\n\n".join([_para(made_line(record, "python -m experiments.editing", root) + " "
                                + generation.caption(record)), generation.table(record["results"]).rstrip("\n"),
                         *(_para(editing.measured(r)) for r in record["results"])])


def translation_block(record: dict, root: Path) -> str:
    """The translation study's record: how it was made, the translators' table, the predictors' table and
    their clip-by-clip pairing."""
    results = record["results"]
    together = translation.paired(results)
    return "\n\n".join([_para(made_line(record, "python -m experiments.translation", root) + " "
                                + translation.caption(record)),
                         translation.translators_table(results).rstrip("\n"),
                         translation.predictors_table(results).rstrip("\n"), *([_para(together)] if together else [])])


def truncation_block(record: dict, root: Path) -> str:
    """The truncation curves of a generation record's rows (each row's evaluation measured its
    generator again at every ``evaluate.truncation`` threshold): per row and threshold FID,
    precision and recall, the untruncated generator first."""
    head = "| run | threshold | FID | precision | recall |\n|---|---|---|---|---|\n"
    lines = []
    for r in record["results"]:
        m = r["metrics"]
        sets = ["generator", *m.get("truncation", {}).get("sets", [])]
        for name in sets:
            threshold = "none" if name == "generator" else name.removeprefix("truncation ")
            lines.append(f"| `{r['row']}` | {threshold} | {zoo.cell(m['fid'].get(name))} | "
                         f"{zoo.cell(m['precision'].get(name), 3)} | {zoo.cell(m['recall'].get(name), 3)} |")
    return _para(f"Truncation curves of the record made at commit {record['commit'][:7]} (the same latents, values "
                 f"beyond each threshold redrawn):") + "\n\n" + head + "\n".join(lines)


def gam_block(record: dict, root: Path) -> str:
    """A GAM battle's record (:mod:`experiments.battle`): which experiments, both ratios with their
    intervals and the verdict."""
    runs = record["runs"]

    def ratio(name: str) -> str:
        r = record[name]
        if r["value"] is None:
            return f"undefined ({r['undefined']})"
        lo, hi = (end if end == "inf" else f"{end:.3f}" for end in r["interval"])
        return f"{r['value']:.3f} [{lo}, {hi}]"

    who = {side: f"`{run['experiment']}` ({run['family']}, {run['objective']}, base {run['base'][:7]})"
           for side, run in runs.items()}
    level = f"{record['confidence']:.0%} bootstrap intervals over {record['resamples']} resamples"
    return _para(f"{made_line(record, 'python -m experiments.battle', root)} A = {who['A']} against B = {who['B']}, "
                 f"{record['test']['images']} test images and {record['samples']} samples of each generator: "
                 f"r_test = {ratio('r_test')}, r_samples = {ratio('r_samples')} ({level}). "
                 f"Verdict: {record['verdict_line']}.")


def _record(render: Callable[[dict, Path], str]) -> Callable[[Path, Path], str]:
    """A view of a study's JSON record."""
    return lambda path, root: render(json.loads(path.read_text()), root)


# view name -> (the file's path, the repository's root) -> the block's markdown.
VIEWS: dict[str, Callable[[Path, Path], str]] = {
    "zoo": _record(zoo_block),
    "table2": _record(table2_block),
    "claim": _record(claim_block),
    "generation": _record(generation_block),
    "gam": _record(gam_block),
    "truncation": _record(truncation_block),
    "inversion": _record(inversion_block),
    "editing": _record(editing_block),
    "translation": _record(translation_block),
    "footage": _record(footage_block),
    "pretrained": _record(pretrained_block),
    "motion": _record(motion_block),
    "published": published_block,
    "demo": demo_block,
    "demo-summary": demo_summary,
}


def blocks(text: str) -> list[re.Match]:
    """The marked blocks of a README's text, in order."""
    return list(BLOCK.finditer(text))


def render(text: str, root: Path) -> str:
    """``text`` with every marked block rewritten from its file (paths relative to ``root``)."""
    def block(match: re.Match) -> str:
        view = VIEWS[match["view"]]
        return f"<!-- from: {match['path']} {match['view']} -->\n{view(root / match['path'], root)}\n<!-- /from -->"

    return BLOCK.sub(block, text)


def differing(text: str, root: Path) -> list[str]:
    """``path view`` of each block of ``text`` that is not what its file gives."""
    rendered = blocks(render(text, root))
    return [f"{a['path']} {a['view']}" for a, b in zip(blocks(text), rendered) if a["body"] != b["body"]]


def main(argv: list[str] | None = None, prog: str = "python -m experiments.readme") -> None:
    """``python -m experiments.readme [--check] [README]`` (``argv``: the arguments, None: the command
    line's)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("readme", nargs="?", type=Path, default=README, help="the file (default: README.md)")
    parser.add_argument("--check", action="store_true", help="write nothing: list the blocks that differ")
    args = parser.parse_args(argv)
    root = args.readme.resolve().parent
    text = args.readme.read_text()
    unknown = sorted({m["view"] for m in blocks(text)} - set(VIEWS))
    if unknown:
        parser.error(f"{args.readme}: unknown views {', '.join(unknown)} (known: {', '.join(VIEWS)})")
    stale = differing(text, root)
    if args.check:
        for name in stale:
            print(f"{args.readme}: {name}: not what its file gives")
        sys.exit(1 if stale else 0)
    args.readme.write_text(render(text, root))
    print(f"{args.readme}: {len(blocks(text))} blocks, {len(stale)} rewritten")


if __name__ == "__main__":
    main()
