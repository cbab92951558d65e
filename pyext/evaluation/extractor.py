"""The project's own feature extractor for FID, KID and the Inception Score: a small CNN trained once on
a fixed generated corpus and shipped, so that every evaluation measures distances without a
download and every run's distances compare (the standard Inception network is neither shipped nor
fetched; a user's file in ``evaluate.features`` / ``evaluate.classifier`` replaces this one).

The corpus: ``clip.patch``-square patches (32x32) of single frames of the three generated sets
(the demo, the photo set and the uncertain-futures set), rendered here from fixed seeds. The task:
self-supervised rotation prediction (which of 0, 90, 180, 270 degrees a patch was turned: RotNet,
Gidaris et al. 2018), which needs the objects' shapes and textures, plus what one frame shows
of the classes: the set a patch comes from, and the uncertain-futures set's object shape (its
classes; the demo's and the photo set's classes are motions, invisible in one frame). The features
are the trunk's globally pooled activations (any frame size goes through); the classifier head is
the object shape's.

    python -m pyext.evaluation.extractor                  # trains and writes EXTRACTOR_DIR (minutes)
    python -m pyext.evaluation.extractor --out /tmp/x --steps 50

writes ``features.pt`` and ``classifier.pt`` (TorchScript: frames ``(N, 3, H, W)`` RGB float32 in
[0, 1] -> features ``(N, 128)`` / shape logits ``(N, 4)``) and ``card.json`` (the corpus, the task,
the held-out accuracies, the machine, the files' SHA-256 and the check FID's authors made of it:
FID from a floor between two sets of real patches, rising under five disturbances at four levels).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

EXTRACTOR_DIR = Path(__file__).with_name("extractor_files")  # the shipped files
SOURCES = ("demo", "photos", "stochastic")  # the sets of the corpus, in the source head's order
FEATURES = 128


class PatchNet(nn.Module):
    """Frames ``(N, 3, H, W)`` RGB in [0, 1] -> a trunk of four 3x3 convolutions (32, 64, 128, 128
    maps, the last three with stride 2, batch norm and ReLU) pooled to features ``(N, 128)``, and
    three heads on them: rotation (4), source (3) and the object shape (``shapes``)."""

    def __init__(self, shapes: int = 4):
        super().__init__()
        layers, c_in = [], 3
        for c_out, stride in ((32, 1), (64, 2), (128, 2), (FEATURES, 2)):
            layers += [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c_in = c_out
        self.trunk = nn.Sequential(*layers)
        self.rotation, self.source, self.shape = nn.Linear(FEATURES, 4), nn.Linear(FEATURES, len(SOURCES)), \
            nn.Linear(FEATURES, shapes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x * 2 - 1).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f = self.features(x)
        return self.rotation(f), self.source(f), self.shape(f)


class _Features(nn.Module):
    def __init__(self, net: PatchNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features(x)


class _Classifier(_Features):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.shape(self.net.features(x))


def corpus(per_source: int, seed: int = 0, size: tuple[int, int] = (240, 320), patch: int = 32
           ) -> dict[str, np.ndarray]:
    """``per_source`` random ``patch``-square crops of single frames of each generated set, rendered
    from fixed seeds (its videos' seed ``seed``; 8 videos of 8 frames a class, every class).

    Returns:
        ``patches`` uint8 ``(N, patch, patch, 3)``, ``source`` int64 ``(N,)`` (index into
        :data:`SOURCES`) and ``shape`` int64 ``(N,)`` (the uncertain-futures set's class; -1 elsewhere).
    """
    from ..data import demo, photos, stochastic

    renderers = {"demo": (demo.CLASSES, lambda c, g, k: demo.render_clip(c, seed, g, k, 8, size)),
                 "photos": (photos.CLASSES, lambda c, g, k: photos.render_video(c, seed, g, k, 8, g == 1, size)),
                 "stochastic": (stochastic.CLASSES,
                                lambda c, g, k: stochastic.render_video(c, seed, g, k, 8, False, size))}
    rng = np.random.default_rng(seed)
    patches, sources, shapes = [], [], []
    for s, name in enumerate(SOURCES):
        classes, render = renderers[name]
        videos = [(c, g, k) for c in classes for g in range(1, 5) for k in (1, 2)]
        frames = np.concatenate([render(*v) for v in videos])  # (V * 8, H, W, 3)
        labels = np.repeat([classes.index(c) for c, _, _ in videos], 8)
        rows = rng.integers(0, len(frames), per_source)
        ys, xs = rng.integers(0, size[0] - patch + 1, per_source), rng.integers(0, size[1] - patch + 1, per_source)
        patches.append(np.stack([frames[r, y:y + patch, x:x + patch] for r, y, x in zip(rows, ys, xs)]))
        sources.append(np.full(per_source, s))
        shapes.append(labels[rows] if name == "stochastic" else np.full(per_source, -1))
    return {"patches": np.concatenate(patches), "source": np.concatenate(sources), "shape": np.concatenate(shapes)}


def _rotated(x: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """Each image of ``x`` ``(B, 3, P, P)`` turned by its ``turns`` quarter turns."""
    return torch.stack([torch.rot90(image, int(k), dims=(1, 2)) for image, k in zip(x, turns)])


def train_extractor(data: dict[str, np.ndarray], steps: int, seed: int = 0, batch: int = 128,
                    progress: bool = True) -> tuple[PatchNet, dict]:
    """Trains :class:`PatchNet` on 90% of ``data`` (:func:`corpus`) with the three heads' cross-
    entropies summed (Adam 1e-3), each batch at random rotations; returns it (in eval mode) and its
    accuracies on the other 10%: rotation, source, shape (where labelled)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(data["patches"]).permute(0, 3, 1, 2).float() / 255
    source, shape = torch.from_numpy(data["source"]), torch.from_numpy(data["shape"])
    order = torch.from_numpy(rng.permutation(len(x)))
    held, used = order[:len(x) // 10], order[len(x) // 10:]
    net = PatchNet(int(shape.max()) + 1)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    for _ in tqdm(range(steps), desc="extractor", unit="step", disable=not progress):
        rows = used[torch.from_numpy(rng.integers(0, len(used), batch))]
        turns = torch.from_numpy(rng.integers(0, 4, batch))
        rotation, source_logits, shape_logits = net(_rotated(x[rows], turns))
        labelled = shape[rows] >= 0
        loss = F.cross_entropy(rotation, turns) + F.cross_entropy(source_logits, source[rows])
        if labelled.any():
            loss = loss + F.cross_entropy(shape_logits[labelled], shape[rows][labelled])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    net.eval()
    with torch.no_grad():
        turns = torch.from_numpy(rng.integers(0, 4, len(held)))
        rotation, source_logits, shape_logits = net(_rotated(x[held], turns))
        labelled = shape[held] >= 0
        accuracy = {"rotation": float((rotation.argmax(1) == turns).float().mean()),
                    "source": float((source_logits.argmax(1) == source[held]).float().mean()),
                    "shape": float((shape_logits[labelled].argmax(1) == shape[held][labelled]).float().mean())}
    return net, {k: round(v, 4) for k, v in accuracy.items()} | {"held_out": len(held), "trained_on": len(used)}


def _digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def export(net: PatchNet, out: Path, card: dict) -> dict:
    """Writes ``features.pt`` and ``classifier.pt`` (TorchScript) and ``card.json`` (``card`` with
    the files' digests) into ``out``; returns the card."""
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, module in (("features.pt", _Features(net)), ("classifier.pt", _Classifier(net))):
        with warnings.catch_warnings():  # torch 2.14 deprecates TorchScript, the format evaluate.features takes
            warnings.simplefilter("ignore", FutureWarning)
            torch.jit.script(module.eval()).save(str(out / name))
        files[name] = _digest(out / name)
    card = {**card, "files": files}
    (out / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    return card


# Heusel et al. (2017)'s check of FID: it should rise with the strength of each disturbance. Four
# levels each, on 0..255 patches; rectangles and swirl as their paper's figure shows them.
DISTORTIONS = {
    "gaussian noise": (8.0, 16.0, 32.0, 64.0),  # sigma, levels
    "gaussian blur": (0.5, 1.0, 2.0, 4.0),  # sigma, pixels
    "black rectangles": (1, 2, 4, 8),  # rectangles of a quarter of the side each
    "swirl": (1.0, 2.0, 4.0, 8.0),  # strength, radius the patch's side
    "salt and pepper": (0.02, 0.05, 0.1, 0.2),  # share of pixels
}


def distort(patches: np.ndarray, kind: str, level: float, seed: int = 0) -> np.ndarray:
    """``patches`` uint8 ``(N, P, P, 3)`` under one of :data:`DISTORTIONS` at ``level``."""
    import cv2
    from skimage.transform import swirl
    from skimage.util import random_noise

    rng = np.random.default_rng(seed)
    x = patches.astype(np.float64)
    p = patches.shape[1]
    if kind == "gaussian noise":
        x = x + rng.normal(0, level, x.shape)
    elif kind == "gaussian blur":
        x = np.stack([cv2.GaussianBlur(image, (0, 0), level) for image in x])
    elif kind == "black rectangles":
        x = x.copy()
        side = p // 4
        for image in x:
            for y, left in rng.integers(0, p - side + 1, (int(level), 2)):
                image[y:y + side, left:left + side] = 0
    elif kind == "swirl":
        x = np.stack([swirl(image / 255, strength=level, radius=p, preserve_range=True) * 255 for image in x])
    elif kind == "salt and pepper":
        x = random_noise(patches, mode="s&p", amount=level, rng=int(rng.integers(2 ** 31))) * 255
    else:
        raise ValueError(f"unknown distortion {kind!r}; known: {', '.join(DISTORTIONS)}")
    return np.rint(np.clip(x, 0, 255)).astype(np.uint8)


def validate(features_path: Path, per_level: int = 1000, seed: int = 1) -> dict:
    """FID through the extractor at ``features_path`` of ``per_level`` real patches (a corpus of
    another seed than the training one) against a disjoint set of as many, undisturbed (the floor)
    and under each of :data:`DISTORTIONS` at its four levels; ``monotone`` per distortion."""
    from .fid import FrameFeatures, frechet_distance

    real = corpus(2 * per_level // len(SOURCES) + 1, seed)["patches"]
    order = np.random.default_rng(seed).permutation(len(real))
    reference, other = real[order[:per_level]], real[order[per_level:2 * per_level]]
    extractor = FrameFeatures(features_path, torch.device("cpu"))

    def features(name: str, patches: np.ndarray) -> np.ndarray:
        for lo in range(0, len(patches), 500):
            extractor.add({name: patches[lo:lo + 500]})
        return extractor.features(name)

    base = features("reference", reference)
    floor = frechet_distance(base, features("other", other))
    table = {}
    for kind, levels in DISTORTIONS.items():
        table[kind] = [frechet_distance(base, features(f"{kind} {level}", distort(other, kind, level, seed)))
                       for level in levels]
    return {"patches": per_level, "floor": round(floor, 4),
            "fid": {kind: [round(v, 4) for v in values] for kind, values in table.items()},
            "monotone": {kind: bool(floor < values[0] and all(a < b for a, b in zip(values, values[1:])))
                         for kind, values in table.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pyext.evaluation.extractor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=EXTRACTOR_DIR, help=f"where the files go (default {EXTRACTOR_DIR})")
    parser.add_argument("--per-source", type=int, default=12000, help="patches of each generated set")
    parser.add_argument("--steps", type=int, default=3000, help="training steps of 128 patches")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--validate-patches", type=int, default=1000,
                        help="real patches per level of the distortion check (Heusel et al.)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    data = corpus(args.per_source, args.seed)
    net, accuracy = train_extractor(data, args.steps, args.seed)
    card = {"corpus": {"sources": list(SOURCES), "patches_per_source": args.per_source, "patch": 32, "seed": args.seed,
                       "videos": "8 videos of 8 frames a class, groups 1-4, clips 1-2, 240x320"},
            "task": "rotation (4 quarter turns) + source set (3) + the stochastic set's object shape (4), "
                    "cross-entropies summed; features: the trunk's pooled 128 activations",
            "steps": args.steps, "batch": 128, "accuracy_held_out": accuracy,
            "machine": f"{platform.machine()}, torch {torch.__version__}"}
    card = export(net, args.out, card)
    card["validation"] = validate(args.out / "features.pt", args.validate_patches)
    (args.out / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    print(f"extractor: held-out accuracy {accuracy}; FID floor {card['validation']['floor']}, monotone under "
          f"{sum(card['validation']['monotone'].values())} of {len(DISTORTIONS)} distortions; wrote {args.out} "
          f"in {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
