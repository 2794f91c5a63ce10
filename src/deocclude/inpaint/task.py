"""``deocclude train inpaint``: G as a :class:`~deocclude.train.task.Task` of the shared loop.

Two stages per step, each with its own Adam (docs/method.md §6: betas (0.5, 0.999)):

1. ``generator``: Î = G(M_O, I_N, I_R), Î_out = composite; L_G (eq. 15). The detached
   composite is kept for the next stage, so G runs once per step.
2. ``discriminator``: L_D (eq. 16) on clean training faces with little real occlusion
   (``real_ok``) against the kept composite.

D and the adversarial/identity terms see the *composite* Î_out (what the user gets and
what the identity metric scores); the pixel terms see the raw Î (docs/method.md §5, eqs. 10-13).
L_bg's target is the network's own input I' (outside M_R nothing is to be removed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
import torch.nn.functional as F

from deocclude.inpaint.config import InpaintTrainConfig
from deocclude.inpaint.discriminator import Discriminator
from deocclude.inpaint.generator import Generator, composite, generator_input
from deocclude.inpaint.losses import (
    cosine_loss,
    discriminator_loss,
    erode,
    feature_distance,
    generator_adversarial,
    identity_loss,
    masked_l1,
    ssim_ohem,
    total_variation,
)
from deocclude.train.task import Models, Stage, Task

if TYPE_CHECKING:
    from deocclude.identity.network import DlibFaceResNet


def region_stats(pred: torch.Tensor, target: torch.Tensor, hole: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image L1, PSNR and SSIM inside ``hole`` (pixels in [0, 1]); images with no hole get NaN."""
    from kornia.metrics import ssim

    area = hole.flatten(1).sum(1)
    diff = (pred - target) * hole
    l1 = diff.abs().flatten(1).sum(1) / (3 * area)
    mse = diff.pow(2).flatten(1).sum(1) / (3 * area)
    psnr = 10 * torch.log10(1.0 / mse.clamp_min(1e-10))
    smap = ssim(pred, target, 11).mean(1, keepdim=True)
    s = (smap * hole).flatten(1).sum(1) / area
    return {"l1": l1, "psnr": psnr, "ssim": s}


class InpaintTask(Task):
    name = "inpaint"

    def __init__(self, config: InpaintTrainConfig) -> None:
        self.config = config
        self._fake: torch.Tensor | None = None
        self._embed_net: DlibFaceResNet | None = None

    # -- models ---------------------------------------------------------------------
    def build_models(self) -> dict[str, torch.nn.Module]:
        return {
            "generator": Generator(self.config.generator),
            "discriminator": Discriminator(self.config.discriminator),
        }

    def build_optimizers(self, models: Models, config) -> dict[str, torch.optim.Optimizer]:
        """G at ``lr``, the discriminator at ``lr_d`` (the loop's schedule scales each by its own base)."""
        return {name: torch.optim.Adam(m.parameters(), lr=config.lr_d if name == "discriminator" else config.lr,
                                       betas=config.betas, weight_decay=config.weight_decay)
                for name, m in models.items()}

    def _embed(self, images: torch.Tensor, network: str | None = None) -> torch.Tensor:
        """φ of L_id (``loss.id_network``, or ``network``): (B, 3, N, N) canonical crops -> (B, D)."""
        if (network or self.config.loss.id_network) == "arcface":
            from deocclude.identity.arcface_align import arcface_embedding

            return arcface_embedding(images)
        from deocclude.identity.embed import face_embedding
        from deocclude.identity.weights import load_identity_network

        if self._embed_net is None or next(self._embed_net.parameters()).device != images.device:
            self._embed_net = load_identity_network(device=images.device)
        return face_embedding(images, self._embed_net)

    def _identity_terms(self, out: torch.Tensor, clean: torch.Tensor) -> dict[str, torch.Tensor]:
        """L_id and L_feat of Î_out against the clean face. With ArcFace both come from one pass of the
        network over each image's chip (the maps for L_feat, the embedding from the last map for L_id)."""
        from deocclude.identity.arcface_align import arcface_chips, arcface_network

        lc, terms = self.config.loss, {}
        arcface_id = lc.id > 0 and lc.id_network == "arcface"
        if lc.feature > 0 or arcface_id:
            net = arcface_network(out.device)
            pred = net.feature_maps(arcface_chips(out))
            with torch.no_grad():
                ref = net.feature_maps(arcface_chips(clean))
            if lc.feature > 0:
                terms["feature"] = feature_distance(pred, ref)
            if arcface_id:
                terms["id"] = cosine_loss(net.embedding(pred[-1]), net.embedding(ref[-1]))
        if lc.id > 0 and not arcface_id:
            terms["id"] = identity_loss(self._embed, out, clean)
        return terms

    # -- data -----------------------------------------------------------------------
    def _faces(self, split: str):
        from deocclude.data import UTKFaceFaces

        ratio = self.config.min_visible_ratio if split == "train" else None
        return UTKFaceFaces(split=split, size=self.config.size, min_visible_ratio=ratio)

    def _samples(self, split: str, train: bool):
        from deocclude.inpaint.data import InpaintSamples, PoissonTargets
        from deocclude.inpaint.prior import make_prior
        from deocclude.synth import OcclusionSynthesizer, SynthConfig
        from deocclude.synth.config import weighted_config

        c = self.config
        faces = self._faces(split)
        prior = make_prior(c.prior, c.size, faces=faces, device=c.device)
        poisson = PoissonTargets(faces, prior, c.poisson_cache)
        # validation keeps the default draw whatever the run trains on, so runs stay comparable
        synth = OcclusionSynthesizer(weighted_config(c.occluder_weights) if train else SynthConfig(),
                                     "train" if train else "test")
        return InpaintSamples(
            faces,
            synth,
            prior,
            poisson,
            c.clean_fraction if train else 0.0,
            c.real_min_visible_ratio,
            train=train,
            seed=c.val_seed,
            limit=c.train_limit if train else c.val_limit,
            feed_prior=not c.no_prior,
            hole=c.hole,
            carry_prior=c.carry_prior,
        )

    def train_dataset(self):
        return self._samples("train", True)

    def val_dataset(self):
        return self._samples("val", False)

    # -- forward --------------------------------------------------------------------
    def predict(self, models: Models, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(Î, Î_out) in [0, 1] for a batch; I_R is used only where the sample has one."""
        prior = batch["prior"] if bool(batch["has_prior"].any()) else None
        x = generator_input(batch["occluded"], batch["hole"], prior)
        raw = (models["generator"](x) + 1) / 2
        return raw, composite(batch["occluded"], raw, batch["hole"])

    def generator_losses(self, models: Models, batch: dict, step: int) -> dict[str, torch.Tensor]:
        c, lc = self.config, self.config.loss
        raw, out = self.predict(models, batch)
        self._fake = out.detach()
        losses = {
            "face": masked_l1(raw, batch["image"], batch["face_mask"]),
            "hole": masked_l1(raw, batch["image"], batch["face_mask"] * batch["hole"]),
            "bg": masked_l1(
                raw, batch["occluded"], erode(1 - batch["render_mask"], lc.erode_background) * batch["valid"]
            ),
            "tv": total_variation(out),
            "adv": generator_adversarial(models["discriminator"](out * 2 - 1)),
        }
        if not c.no_ssim_loss:
            region = erode(batch["orig_occlusion"], lc.erode_occlusion)
            losses["ssim"] = ssim_ohem(raw, batch["poisson"], region, lc.ssim_window, lc.ssim_ohem_fraction,
                                       lc.ssim_ohem_min_kept, weight=batch["has_target"])
        if step % max(1, lc.id_every) == 0:
            losses.update(self._identity_terms(out, batch["image"]))
        weights = {
            "face": lc.face,
            "hole": lc.hole,
            "bg": lc.bg,
            "tv": lc.tv,
            "adv": lc.adv,
            "ssim": lc.ssim,
            "id": lc.id,
            "feature": lc.feature,
        }
        # a sum of tensors (``losses`` is never empty), not the int 0 sum() starts from
        losses["loss"] = cast(torch.Tensor, sum(weights[k] * v for k, v in losses.items()))
        return losses

    def discriminator_losses(self, models: Models, batch: dict, step: int) -> dict[str, torch.Tensor]:
        fake = self._fake if self._fake is not None else self.predict(models, batch)[1].detach()
        d = models["discriminator"]
        real_logits, fake_logits = d(batch["image"] * 2 - 1), d(fake * 2 - 1)
        self._fake = None
        return {"loss": discriminator_loss(real_logits, fake_logits, batch["real_ok"]),
                "real": torch.sigmoid(real_logits).mean(), "fake": torch.sigmoid(fake_logits).mean()}

    def stages(self) -> list[Stage]:
        return [Stage("generator", self.generator_losses), Stage("discriminator", self.discriminator_losses)]

    # -- validation -----------------------------------------------------------------
    def val_step(self, models: Models, batch: dict) -> dict[str, torch.Tensor]:
        """Sums over the *synthetic* occlusion (where the clean image is ground truth)."""
        _, out = self.predict(models, batch)
        region = (batch["synthetic"] > 0.5).float() * batch["hole"]
        has = region.flatten(1).sum(1) > 0
        stats = region_stats(out, batch["image"], region)
        cosines = {name: F.cosine_similarity(self._embed(out, net), self._embed(batch["image"], net), dim=1)
                   for name, net in (("id_cos", "dlib"), ("arc_cos", "arcface"))}
        return {"n": has.sum().float(), **{k: torch.where(has, v, 0).sum() for k, v in stats.items()},
                **{k: torch.where(has, cos, 0).sum() for k, cos in cosines.items()}}

    def summarize(self, sums: dict[str, torch.Tensor]) -> dict[str, float]:
        """Means per face with a synthetic hole; ``id_cos`` is dlib's cosine (as in legs 0-2), ``arc_cos`` ArcFace's."""
        n = max(float(sums["n"]), 1.0)
        return {f"val_{k}": float(sums[k]) / n for k in ("l1", "psnr", "ssim", "id_cos", "arc_cos")}

    def grid(self, models: Models, batch: dict) -> np.ndarray:
        """Rows: occluded, M_O overlay, I_R, I_P, result Î_out, clean (up to 8 faces)."""
        from deocclude.train.grid import overlay, tile, to_rgb_uint8

        _, out = self.predict(models, batch)
        rows = []
        for i in range(min(8, len(out))):
            rows.append([to_rgb_uint8(t) for t in (
                batch["occluded"][i], overlay(batch["occluded"][i], batch["hole"][i], (1.0, 0.0, 1.0)),
                batch["prior"][i], batch["poisson"][i], out[i], batch["image"][i])])
        return tile(rows)

    def export_metadata(self) -> dict[str, str]:
        """Loadable as is by :func:`deocclude.inpaint.api.load_inpainter` (the bundle adds provenance)."""
        from deocclude.inpaint.api import G_FILE, uses_prior_metadata

        return G_FILE.metadata(self.config.generator, self.config.size, uses_prior_metadata(self.config.feeds_prior))

    @classmethod
    def provenance(cls, config: InpaintTrainConfig) -> dict[str, Any]:
        """G's ablations differ only in these flags: the file says which one it is."""
        data = (f"UTKFace train faces (visible_ratio >= {config.min_visible_ratio}), aligned N={config.size}, "
                "deocclude.synth occluders of every category (train split); research-only data")
        inputs = {
            "prior": config.prior if config.feeds_prior else "none (I_R = zeros)",
            "ssim_loss": str(not config.no_ssim_loss),
            "hole": config.hole,
            "carry_prior": str(config.carry_prior),
        }
        return {"data": data, "inputs": inputs}

    def load_exported(self, models: Models, tensors: dict[str, torch.Tensor]) -> None:
        """``--init-from`` an exported G (the bundled file): the generator's weights; D starts fresh
        (it never ships)."""
        models["generator"].load_state_dict({k: v.float() for k, v in tensors.items()})

    def export(self, models: Models) -> dict[str, torch.Tensor]:
        """Only the generator ships; keys without prefix (see :data:`deocclude.inpaint.api.G_FILE`)."""
        return dict(models["generator"].state_dict())
