"""The one typed loader of ``params.yaml``: every pipeline stage reads its numbers through
:func:`load_params`, so a typo, a wrong type or an inconsistent combination stops the run before any
work, with one line naming the file and the key at fault (:class:`ParamsError`). Torch-free.

Every key is required: the YAML file is the single source of the values, none has a default here.

Split by domain, each module holding its sections and its own rules that span keys:
:mod:`.data` (``clip``, ``data``, the generated sets), :mod:`.extraction` (``extract``,
``filter``), :mod:`.model` (``model``), :mod:`.loss` (``loss``), :mod:`.training` (``train``,
``finetune``), :mod:`.evaluation` (``evaluate``); :mod:`.params` assembles them (:class:`Params`)
and reads files; :mod:`.rules` holds what the sections are made of. A section is a frozen pydantic
dataclass whose fields' types declare their rule (``_int(1)``, ``named(TABLE)``). The registries'
tables (:data:`FAMILIES`, :data:`OBJECTIVES`, ...) are here too: each registered piece's facts,
stated once, read by the validation and by the registry that holds its implementation.

Example:
    >>> params = parse_params({
    ...     "clip": {"input_frames": 4, "output_frames": 1, "patch": 32, "test_steps": 2},
    ...     "data": {"source": "demo", "root": "data/demo", "split": 1,
    ...              "test": {"source": "same", "root": "", "split": 1},
    ...              "translate": {"source": "none", "root": "", "split": 1}},
    ...     "demo": {"classes": 6, "groups": 7, "test_groups": 2, "clips_per_group": 2, "frames": 40,
    ...              "seed": 0},
    ...     "photos": {"classes": 4, "groups": 4, "test_groups": 1, "clips_per_group": 1, "frames": 40,
    ...                "seed": 0, "version": 1},
    ...     "stochastic": {"classes": 4, "groups": 5, "test_groups": 1, "clips_per_group": 2, "frames": 40,
    ...                    "seed": 0, "branches": 2, "switch_probability": 0.5},
    ...     "extract": {"workers": 2, "frame_size": [240, 320], "clip_stride": 4, "crops_per_clip": 4,
    ...                 "max_clips_per_video": 0, "test_clips_per_video": 1, "seed": 0},
    ...     "filter": {"min_motion": 8, "min_kept": 1000, "val_fraction": 0.1, "max_per_video": 0, "seed": 0},
    ...     "model": {"family": "multiscale", "d_norm": "none", "attention": False, "condition": "none",
    ...               "embedding": 8,
    ...               "multiscale": {"scales": 4, "width": 0.25, "skip": "last_frame", "d_leak": 0.0,
    ...                              "noise": 0},
    ...               "gaia": {"frames": "clip", "latent": 128, "width": 0.25, "lr": 1e-4, "betas": [0.9, 0.999],
    ...                        "adam_eps": 1e-8, "slope": 20.0, "structure_weight": 5e-5,
    ...                        "interpolation": [0.5, 0.25]},
    ...               "dcgan": {"latent": 100, "width": 0.5, "batch_norm": True, "optimizer": "adam", "lr_g": 2e-4,
    ...                         "lr_d": 2e-4, "betas": [0.5, 0.999]},
    ...               "lapgan": {"levels": 3, "latent": 100, "width": 0.25, "optimizer": "adam", "lr_g": 2e-4,
    ...                          "lr_d": 2e-4, "betas": [0.5, 0.999]},
    ...               "vaegan": {"latent": 128, "width": 0.5, "batch_norm": True, "layer": 2, "gamma": 1e-2,
    ...                          "kl_weight": 1.0, "optimizer": "rmsprop", "lr_g": 3e-4, "lr_d": 3e-4,
    ...                          "betas": [0.5, 0.999]},
    ...               "biggan": {"latent": 128, "width": 0.125, "hierarchical": True, "ortho": 1e-4,
    ...                          "ema_decay": 0.999, "ema_start": 500, "standing": 16, "optimizer": "adam",
    ...                          "lr_g": 1e-4, "lr_d": 4e-4, "betas": [0.0, 0.999]},
    ...               "gran": {"latent": 100, "steps": 3, "noise": "each", "width": 0.5, "batch_norm": True,
    ...                        "optimizer": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "betas": [0.5, 0.999]},
    ...               "icgan": {"latent": 100, "width": 0.5, "batch_norm": True, "optimizer": "adam", "lr_g": 2e-4,
    ...                         "lr_d": 2e-4, "betas": [0.5, 0.999], "encoder_from": 2000, "lr_e": 1e-4,
    ...                         "betas_e": [0.1, 0.999]},
    ...               "inversion": {"network": "builtin", "layer": 3, "comparator_layer": 4, "feature_weight": 1.0,
    ...                             "adversarial_weight": 0.01, "image_weight": 1.0, "width": 0.5,
    ...                             "batch_norm": True, "optimizer": "adam", "lr_g": 2e-4, "lr_d": 2e-4,
    ...                             "betas": [0.5, 0.999]}},
    ...     "loss": {"adversarial": {"kind": "bce", "d_steps": 1, "d_pause": 0.0, "fgan": {"divergence": "js"},
    ...                              "wgan": {"clip": 0.01, "critic_steps": 5},
    ...                              "wgan_gp": {"gp_weight": 10.0, "critic_steps": 5},
    ...                              "ebgan": {"margin": 0.1, "pt_weight": 0.1},
    ...                              "began": {"gamma": 0.5, "lambda_k": 0.001}},
    ...              "adv": 0.05, "lp": 1, "p": 2, "gdl": 1, "alpha": 1, "feature": 0.0, "class_weight": 1.0,
    ...              "class_d": "both", "best_of": 1,
    ...              "comparator": {"kind": "discriminator", "layers": [-1], "file": ""}},
    ...     "train": {"steps": 800, "batch_size": 8, "optimizer": "sgd", "betas": [0.5, 0.999], "lr_g": 0.04,
    ...               "lr_g_final": 0.005, "lr_d": 0.02, "lr_d_final": 0.02, "seed": 0, "device": "auto",
    ...               "compile": False, "precision": "float32", "channels_last": False, "workers": 2,
    ...               "checkpoint_every": 100, "log_every": 10, "val_every": 100, "val_batches": 8, "val_clips": 8,
    ...               "image_every": 200, "augment": ["flip", "rotate"], "colour_jitter": 0.1, "keep": "best",
    ...               "init": ""},
    ...     "evaluate": {"protocol": "all", "max_clips": 0, "flow_threshold": 1.0, "pictures": 4,
    ...                  "patches": 256, "features": "", "classifier": "", "fid_patches": 2000, "kid_subsets": 100,
    ...                  "kid_subset_size": 1000,
    ...                  "measure": "moving_mean", "samples": 4, "truncation": [2.0, 1.0, 0.5, 0.25],
    ...                  "probe_steps": 0}, "finetune": {"patch": 0, "steps": 200}})
    >>> params.clip.train_frames, params.extract.frame_size, params.filter.min_motion
    (5, (240, 320), 8.0)
"""
from .data import (
    DATA_SOURCES,
    DEMO_MAX_CLASSES,
    DOMAIN_KEYS,
    GENERATED_SOURCES,
    NONE,
    PHOTOS_MAX_CLASSES,
    SAME,
    SOURCES,
    STOCHASTIC_MAX_BRANCHES,
    STOCHASTIC_MAX_CLASSES,
    ClipParams,
    DataParams,
    DemoParams,
    PhotosParams,
    Source,
    StochasticParams,
    DataTestParams,
    DataTranslateParams,
)
from .evaluation import MEASURES, EvaluateParams
from .extraction import ExtractParams, FilterParams
from .loss import (
    COMPARATORS,
    FGAN_DIVERGENCES,
    OBJECTIVES,
    AdversarialParams,
    BEGANParams,
    ComparatorFacts,
    ComparatorParams,
    EBGANParams,
    FGANParams,
    LossParams,
    Objective,
    WGANGPParams,
    WGANParams,
)
from .model import (
    CONDITIONS,
    D_NORMS,
    DCGAN_SIZES,
    DISCRIMINATORS,
    FAMILIES,
    MODEL_MAX_SCALES,
    SKIPS,
    TABLE1_DISCRIMINATOR,
    ConditionFacts,
    DCGANParams,
    ImageGANOptimiser,
    LAPGAN_COARSEST,
    LAPGANParams,
    VAEGANParams,
    BigGANParams,
    GRANParams,
    ICGANParams,
    InversionParams,
    DiscriminatorFacts,
    Family,
    GAIAParams,
    ModelParams,
    MultiScaleParams,
)
from .params import Params, StrictLoader, finetune_params, load_params, parse_params
from .rules import BUILTIN, MAX_STEPS, ParamsError
from .training import AUGMENTATIONS, OPERATIONAL, OPTIMIZERS, FinetuneParams, TrainParams

__all__ = [
    "AUGMENTATIONS", "BUILTIN", "COMPARATORS", "CONDITIONS", "DATA_SOURCES", "DCGAN_SIZES", "DEMO_MAX_CLASSES",
    "DISCRIMINATORS", "DOMAIN_KEYS", "D_NORMS", "LAPGAN_COARSEST",
    "FAMILIES", "FGAN_DIVERGENCES", "GENERATED_SOURCES", "MAX_STEPS", "MEASURES", "MODEL_MAX_SCALES", "NONE", "OBJECTIVES",
    "OPERATIONAL", "OPTIMIZERS", "PHOTOS_MAX_CLASSES", "SAME", "SKIPS", "SOURCES", "STOCHASTIC_MAX_BRANCHES",
    "STOCHASTIC_MAX_CLASSES", "TABLE1_DISCRIMINATOR", "AdversarialParams", "BEGANParams",
    "ClipParams", "ComparatorFacts", "ComparatorParams", "ConditionFacts", "DataParams", "DCGANParams", "DemoParams",
    "ImageGANOptimiser", "LAPGANParams", "VAEGANParams", "BigGANParams", "GRANParams", "ICGANParams", "InversionParams",
    "DiscriminatorFacts", "EBGANParams", "EvaluateParams", "ExtractParams", "FGANParams", "Family", "FilterParams",
    "FinetuneParams", "GAIAParams", "LossParams", "ModelParams", "MultiScaleParams", "Objective", "Params",
    "ParamsError", "PhotosParams", "Source", "StochasticParams", "StrictLoader", "DataTestParams", "DataTranslateParams",
    "TrainParams",
    "WGANGPParams", "WGANParams",
    "finetune_params", "load_params", "parse_params",
]
