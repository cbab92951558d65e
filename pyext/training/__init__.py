"""Training: the loop (:mod:`.loop`), checkpoints and the run's identity (:mod:`.checkpoints`),
the clips' order (:mod:`.data`), optimisers (:mod:`.optim`), validation and pictures
(:mod:`.validation`; a generator from noise's FID and KID: :mod:`.distances`), dvclive logging
(:mod:`.live`), CycleGAN's pool of generated images (:mod:`.pool`), and one training step per model family
(:mod:`.steps`; the paper's Algorithm 1 is :class:`.steps.multiscale.MultiScaleStep`)."""
from .checkpoints import CHECKPOINT_FORMAT, code_hash, params_hash
from .data import ClipBatches, DomainBatches
from .loop import Run, TrainingError, World, rate, run_steps, set_up, train
from .steps import STEPS, TrainingStep, make_step, register_step
from .validation import Validations, prediction_pictures, validation_psnr, verdict

__all__ = ["CHECKPOINT_FORMAT", "STEPS", "ClipBatches", "DomainBatches", "TrainingError",
           "Run", "TrainingStep", "Validations", "World", "code_hash", "make_step", "params_hash", "prediction_pictures",
           "rate", "register_step", "run_steps", "set_up", "train", "validation_psnr", "verdict"]
