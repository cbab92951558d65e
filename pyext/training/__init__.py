"""Training: the loop (:mod:`.loop`), checkpoints and the run's identity (:mod:`.checkpoints`),
the clips' order (:mod:`.data`), optimisers (:mod:`.optim`), validation and pictures
(:mod:`.validation`), dvclive logging (:mod:`.live`), and one training step per model family
(:mod:`.steps`; the paper's Algorithm 1 is :class:`.steps.multiscale.MultiScaleStep`)."""
from .checkpoints import CHECKPOINT, CHECKPOINT_FORMAT, GENERATOR, STALE, code_hash, params_hash
from .data import ClipBatches
from .loop import TrainingError, World, train
from .steps import STEPS, TrainingStep, make_step, register_step
from .validation import Validations, prediction_pictures, validation_psnr, verdict

__all__ = ["CHECKPOINT", "CHECKPOINT_FORMAT", "GENERATOR", "STALE", "STEPS", "ClipBatches", "TrainingError",
           "TrainingStep", "Validations", "World", "code_hash", "make_step", "params_hash", "prediction_pictures",
           "register_step", "train", "validation_psnr", "verdict"]
