"""R's configs as frozen dataclasses, importable without torch (the CLI builds its flags
from them before any model is loaded)."""

from __future__ import annotations

from dataclasses import dataclass

from deocclude.nets.config import ResNetEncoderConfig
from deocclude.train.config import TrainConfig


@dataclass(frozen=True)
class RegressorConfig:
    """Shape of R: the shared ResNet-18-layout encoder (:mod:`deocclude.nets`) + pool + linear.

    Defaults: the ResNet-18 layout at S's half width (32..256 channels, 2.9 M parameters).
    Full width (``--model.stem-width 64 --model.stage-widths 64 128 256 512``, 11.3 M,
    22.6 MB fp16) also fits the bundle limit but trains ~3.5x slower per image on the
    2-core CPU, and only the half-width encoder can start from S's trained weights. The encoder
    fields are flat because they are the JSON in the bundled weights and the CLI flags.
    """

    in_channels: int = 3
    stem_width: int = 32  # ResNet-18: 64
    stage_widths: tuple[int, ...] = (32, 64, 128, 256)  # ResNet-18: (64, 128, 256, 512)
    blocks_per_stage: tuple[int, ...] = (2, 2, 2, 2)  # ResNet-18 BasicBlock counts
    n_coefficients: int = 257  # the face model's CoefficientLayout.size

    @property
    def encoder(self) -> ResNetEncoderConfig:
        """The encoder's part of this config."""
        return ResNetEncoderConfig(
            self.in_channels, self.stem_width, tuple(self.stage_widths), tuple(self.blocks_per_stage)
        )


@dataclass(frozen=True)
class ReconstructLossConfig:
    """The λ of eq. 9 (the paper's values were lost in extraction; these are ours)."""

    coef: float = 1.0
    pix: float = 1.9
    per: float = 0.2
    lm: float = 1.6e-3
    landmark_heavy_weight: float = 20.0  # w_n for nose and inner-mouth points
    per_faces: int = 4  # L_per on the first K faces of each batch (0 = all): the identity net's forward and
    # backward cost more than R itself on CPU (1.4 s of ~3 s per batch of 16); K faces give an unbiased estimate


@dataclass(frozen=True)
class ReconstructTrainConfig(TrainConfig):
    """``deocclude train reconstruct``: the loop's fields plus R's model, loss and data."""

    out: str = "runs/reconstruct"
    lr: float = 3e-4
    lr_drop_at: float = 0.7
    num_workers: int = 0  # in-process data: a data worker forked at the first validation, after the identity
    # net had run in this process, hung on a futex (run reconstruct-r2 at 10 min); synthesis is ~10% of a step
    size: int = 128  # aligned crop size N
    model: RegressorConfig = RegressorConfig()
    loss: ReconstructLossConfig = ReconstructLossConfig()
    teacher: str = ""  # the teacher cache .npz (default: $DEOCCLUDE_CACHE/teacher_x_<size>.npz, see `deocclude fit`)
    face_model: str = ""  # face model .safetensors (default: the bundled one)
    encoder_init: str = ""  # start the encoder from S's weights (a safetensors file or run folder); "" = from scratch
    clean_fraction: float = 0.1  # share of training samples shown without a synthetic occluder
    train_split: str = "train"
    train_limit: int = 0  # first N train faces only (0 = all); for smoke tests
    val_limit: int = 96  # validate on the first N val faces (the benchmark uses all 500)
    val_seed: int = 20261125  # seed of the held-out occluders drawn on the val faces
