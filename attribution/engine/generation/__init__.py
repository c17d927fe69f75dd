"""Sample banks: images a diffusion model generates for one contributor's conditions.

This is the only engine package that imports diffusers. torch, diffusers and transformers load
inside the functions that need them, so importing this package stays cheap.

Two backends share one interface, ``generate(conditions, n_samples, seed, progress)`` returning
float32 images of shape ``(n_samples, channels, height, width)`` with values in [0, 1]:

* :class:`ClassConditionalBackend`: a class-conditional ``UNet2DModel`` plus a DDPM/DDIM scheduler
  (the embedded digits model); conditions are a contributor's class labels.
* :class:`TextToImageBackend`: any diffusers text-to-image pipeline (Stable Diffusion, FLUX, ...),
  optionally with a fused LoRA; conditions are a contributor's prompts.

Randomness is per sample: sample ``i`` of a bank draws its condition from ``default_rng(seed)`` and
all its noise from its own CPU ``torch.Generator`` seeded from ``(seed, i)``. So a bank does not
depend on the batch size or the device's random number generator, and its first ``k`` samples do
not depend on ``n_samples``. Seeds are derived per contributor (:func:`contributor_seed`), so adding
a contributor never changes anyone else's samples.

Modules:

* ``backend``: the :class:`GenerationBackend` interface, :data:`GENERATION_VERSION`,
  :func:`contributor_seed`, :func:`generate_bank`, :func:`check_device`, and the argument checks,
  per-sample generators and config cleaning both backends share.
* ``class_conditional``: :class:`ClassConditionalBackend` and the factories of a fresh
  class-conditional UNet and its training and sampling schedulers.
* ``text_to_image``: :class:`TextToImageBackend` and its pipeline loading, LoRA fusing and hashing.
* ``fingerprints``: sha256 fingerprints of weights in memory, model directories and files.
"""

from attribution.engine.generation.backend import (
    GENERATION_VERSION,
    ConditionT,
    GenerationBackend,
    Images,
    check_device,
    contributor_seed,
    generate_bank,
    sample_conditions,
)
from attribution.engine.generation.class_conditional import (
    ClassConditionalBackend,
    new_class_conditional_unet,
    new_noise_scheduler,
    new_sampling_scheduler,
)
from attribution.engine.generation.fingerprints import (
    directory_fingerprint,
    file_sha256,
    state_dict_sha256,
)
from attribution.engine.generation.text_to_image import TextToImageBackend

__all__ = [
    "GENERATION_VERSION",
    "ClassConditionalBackend",
    "ConditionT",
    "GenerationBackend",
    "Images",
    "TextToImageBackend",
    "check_device",
    "contributor_seed",
    "directory_fingerprint",
    "file_sha256",
    "generate_bank",
    "new_class_conditional_unet",
    "new_noise_scheduler",
    "new_sampling_scheduler",
    "sample_conditions",
    "state_dict_sha256",
]
