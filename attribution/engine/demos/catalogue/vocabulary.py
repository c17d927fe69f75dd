"""A CLIP tokenizer whose vocabulary is the catalogue's words, written from scratch (no download).

CLIP's byte-level BPE marks a word's end with ``</w>``; each catalogue word becomes one token and
the merge list spells each word out letter by letter so that BPE reaches it. Anything else is
split into letters (all letters are in the vocabulary) — never an error.
"""

from __future__ import annotations

import itertools
import json
import string
from pathlib import Path
from typing import Any

from attribution.engine.demos.catalogue.shops import catalogue_words

MAX_LENGTH = 16
"""Tokens per prompt, start and end tokens included (catalogue captions use at most 9)."""


def write_tokenizer_files(directory: Path, words: tuple[str, ...] | None = None) -> Path:
    """Write ``vocab.json`` and ``merges.txt`` for ``words`` (default: the catalogue's)."""
    words = words or catalogue_words()
    directory.mkdir(parents=True, exist_ok=True)
    letters = sorted(set(string.ascii_lowercase) | {ch for word in words for ch in word})
    tokens = ["<|startoftext|>", "<|endoftext|>"] + letters + [f"{ch}</w>" for ch in letters]
    merges: list[tuple[str, str]] = []
    for word in words:
        # Simulate BPE on the merges so far; add a merge only where none applies, so every new
        # merge ranks below all that words spelled earlier need (their tokenization is kept).
        pieces = [*word[:-1], f"{word[-1]}</w>"]
        while len(pieces) > 1:
            pairs = list(itertools.pairwise(pieces))
            ranked = [merges.index(pair) for pair in pairs if pair in merges]
            if ranked:
                pair = merges[min(ranked)]
            else:
                pair = pairs[0]
                merges.append(pair)
            pieces = _merge(pieces, pair)
            if pieces[0] not in tokens:
                tokens.append(pieces[0])
            tokens += [piece for piece in pieces if piece not in tokens]
    vocab = {token: index for index, token in enumerate(tokens)}
    (directory / "vocab.json").write_text(json.dumps(vocab))
    (directory / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n"
    )
    return directory


def make_tokenizer(directory: Path) -> Any:
    """A ``transformers.CLIPTokenizer`` over the catalogue's words (files under ``directory``)."""
    from transformers import CLIPTokenizer

    write_tokenizer_files(directory)
    return CLIPTokenizer(
        vocab=str(directory / "vocab.json"),
        merges=str(directory / "merges.txt"),
        model_max_length=MAX_LENGTH,
    )


def _merge(pieces: list[str], pair: tuple[str, str]) -> list[str]:
    """``pieces`` with every adjacent occurrence of ``pair`` joined, left to right (as BPE does)."""
    merged: list[str] = []
    index = 0
    while index < len(pieces):
        if index + 1 < len(pieces) and (pieces[index], pieces[index + 1]) == pair:
            merged.append(pieces[index] + pieces[index + 1])
            index += 2
        else:
            merged.append(pieces[index])
            index += 1
    return merged
