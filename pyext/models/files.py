"""The saved generator, ``models/generator.pt``: plain dicts and tensors (loadable with
``weights_only``) naming the model family, so that evaluation and prediction rebuild any family.

Formats: 2 (``{"format", "family", "config", "state_dict"}``); 1, written before families existed,
has no ``family`` and is a ``multiscale`` generator.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..config import Params, finetune_params
from ..files import Layout
from .base import FAMILIES, Model, NoiseGenerator, Predictor, Translator

GENERATOR_FORMAT = 2
_FORMATS = (1, 2)


def generator_file(generator: Model, state_dict: dict[str, torch.Tensor] | None = None) -> dict:
    """What ``models/generator.pt`` holds: the generator's family, config and ``state_dict`` (None:
    its current weights)."""
    state = {k: v.detach().cpu() for k, v in (state_dict or generator.state_dict()).items()}
    return {"format": GENERATOR_FORMAT, "family": generator.family, "config": generator.config(), "state_dict": state}


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def load_generator(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Model:
    """A trained model from ``path`` (``models/generator.pt``) of whichever registered family it
    names, its config restored, in eval mode (a :class:`~.base.Predictor`, GAIA's autoencoders or a
    :class:`~.base.NoiseGenerator`).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a BeyondMSE generator (or names a family this code lacks).
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        saved = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say which, not a pickle traceback
        raise ValueError(f"{path}: not a readable generator file ({type(exc).__name__}: {_first_line(exc)})") from None
    if not isinstance(saved, dict) or saved.get("format") not in _FORMATS or "config" not in saved:
        raise ValueError(f"{path}: not a BeyondMSE generator file (formats {', '.join(map(str, _FORMATS))})")
    family = saved.get("family", "multiscale")
    if family not in FAMILIES:
        raise ValueError(f"{path}: a generator of model family {family!r}, which this code does not have "
                         f"(known: {', '.join(FAMILIES)})")
    try:
        generator = FAMILIES[family](**saved["config"])
        generator.load_state_dict(saved["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # config and weights disagree, or are missing
        raise ValueError(f"{path}: a damaged generator file ({type(exc).__name__}: {_first_line(exc)})") from None
    return generator.eval()


def _loaded_as(path: str | os.PathLike, map_location: str | torch.device, kind: type[Model], does_not: str,
               needed: str = "") -> Model:
    """:func:`load_generator`'s model where it is a ``kind``; else a ValueError saying that the file's
    family ``does_not`` (what a ``kind`` does), what it trains, and where ``needed`` says which command
    needs a ``kind``, the families that are one."""
    model = load_generator(path, map_location)
    if not isinstance(model, kind):
        wanted = f"; {needed} (model.family: {', '.join(families_of(kind)) or 'none in this code'})" if needed else ""
        raise ValueError(f"{path}: a {model.family} model, which {does_not} (model.family: {model.family} trains "
                         f"{model.trains}){wanted}")
    return model


def load_predictor(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Predictor:
    """:func:`load_generator` for commands that predict frames.

    Raises:
        ValueError: also when the file holds a model that predicts no frames (GAIA's autoencoders,
            a generator from noise), naming its family and what it trains.
    """
    return _loaded_as(path, map_location, Predictor, "predicts no frames")


def load_noise_generator(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> NoiseGenerator:
    """:func:`load_generator` for commands that sample images from noise.

    Raises:
        ValueError: also when the file holds a model that is no generator from noise (a predictor,
            GAIA's autoencoders), naming its family, what it trains and the families that sample.
    """
    return _loaded_as(path, map_location, NoiseGenerator, "samples no images from noise",
                      "sample needs a generator from noise")


def load_translator(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Translator:
    """:func:`load_generator` for commands that translate frames from one domain to another.

    Raises:
        ValueError: also when the file holds a model that is no translator (a predictor, GAIA's
            autoencoders, a generator from noise), naming its family, what it trains and the
            families that translate.
    """
    return _loaded_as(path, map_location, Translator, "translates no frames", "translate needs a translator")


def families_of(kind: type[Model]) -> list[str]:
    """The registered families whose models are a ``kind`` (each imported to ask it)."""
    return [name for name in FAMILIES if issubclass(FAMILIES[name], kind)]


def noise_families() -> list[str]:
    """The registered families of generators from noise (each imported to ask it)."""
    return families_of(NoiseGenerator)


def evaluated_generator(params: Params, layout: Layout = Layout()) -> tuple[Params, Path]:
    """The generator the evaluate stage measures (and ``beyondmse predict`` uses by default), with
    the params it was trained under: the fine-tuning stage's and :func:`pyext.config.finetune_params`
    where ``finetune.patch`` > 0, else the train stage's and ``params``."""
    if params.finetune.patch:
        return finetune_params(params), layout.finetune.generator
    return params, layout.train.generator
