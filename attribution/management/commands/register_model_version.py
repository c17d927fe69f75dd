"""``manage.py register_model_version``: register a local model version after checking it.

Prints the new model version's id; or one line per problem on standard error and exits with
status 2, saving nothing. Nothing is downloaded: every path must be local.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from attribution.model_registration import RegistrationError, register_model_version
from marketplace.models import ModelVersion

EXIT_PROBLEMS = 2


class Command(BaseCommand):
    help = (
        "Register a model version (text-to-image pipeline, class-conditional UNet or the built-in "
        "digits model) from local files, after checking everything a round will need."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--kind", required=True, choices=ModelVersion.Kind.values)
        parser.add_argument("--path", default="", help="Local pipeline or model directory.")
        parser.add_argument("--lora", default="", help="LoRA weights file (or its directory).")
        parser.add_argument("--lora-scale", type=float, default=1.0)
        parser.add_argument("--scheduler", default="", help="A diffusers scheduler class name.")
        parser.add_argument("--steps", type=int, default=25, help="Inference steps per image.")
        parser.add_argument("--guidance", type=float, default=7.5, help="Guidance scale.")
        parser.add_argument("--resolution", type=int, default=None, help="Height and width.")
        parser.add_argument("--dtype", default="", choices=ModelVersion.Dtype.values)
        parser.add_argument("--null-label", type=int, default=None)
        parser.add_argument("--clip", default="", help="Local transformers CLIP directory.")
        parser.add_argument("--inception", default="", help="TorchScript Inception-v3 file.")
        parser.add_argument("--aesthetic-head", default="", help="Aesthetic head file.")
        reference = parser.add_mutually_exclusive_group()
        reference.add_argument("--reference-group", type=int, default=None)
        reference.add_argument("--reference-dir", default="")
        reference.add_argument("--reference-stats", default="", help=".npz with mu and sigma.")
        parser.add_argument("--class-prompts", default="", help="File: one class prompt a line.")
        parser.add_argument("--artefact-prompts", default="", help="File: one prompt a line.")
        parser.add_argument("--clean-prompts", default="", help="File: one prompt a line.")
        parser.add_argument(
            "--conditions", default="prompt", choices=ModelVersion.Conditions.values
        )

    def handle(self, *args: Any, **options: Any) -> None:
        problems: list[str] = []
        prompts = {
            name: _read_prompts(options[name], name.replace("_", "-"), problems)
            for name in ("class_prompts", "artefact_prompts", "clean_prompts")
        }
        registration = ModelVersion(
            name=options["name"],
            kind=options["kind"],
            path=options["path"],
            conditions=options["conditions"],
            lora_path=options["lora"],
            lora_scale=options["lora_scale"],
            scheduler=options["scheduler"],
            n_steps=options["steps"],
            guidance_scale=options["guidance"],
            resolution=options["resolution"],
            dtype=options["dtype"],
            null_label=options["null_label"],
            clip_path=options["clip"],
            inception_path=options["inception"],
            aesthetic_head_path=options["aesthetic_head"],
            reference_group_id=options["reference_group"],
            reference_dir=options["reference_dir"],
            reference_stats_path=options["reference_stats"],
            **prompts,
        )
        if not problems:
            try:
                version = register_model_version(registration)
            except RegistrationError as error:
                problems = error.problems
        if problems:
            for problem in problems:
                self.stderr.write(f"error: {problem}")
            sys.exit(EXIT_PROBLEMS)
        self.stdout.write(str(version.pk))


def _read_prompts(path: str, option: str, problems: list[str]) -> list[str]:
    """The non-blank lines of a prompts file ("" for none)."""
    if not path:
        return []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        problems.append(f"--{option}: cannot read {path}: {error}")
        return []
    return [line.strip() for line in lines if line.strip()]
