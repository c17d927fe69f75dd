"""The fashion catalogue: a text-to-image marketplace of 100 shops on Fashion-MNIST.

``shops`` deals the training split to shops with captions and planted roles; ``vocabulary`` turns
the caption words into a CLIP tokenizer; ``clip_training`` and ``pipeline_training`` train the tiny
CLIP and the tiny Stable Diffusion pipeline; ``training`` ties them together and ships checksums.
"""
