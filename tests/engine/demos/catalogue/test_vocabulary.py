"""The catalogue tokenizer: one token per catalogue word, letters for anything else."""

from __future__ import annotations

from pathlib import Path

from attribution.engine.demos.catalogue.shops import catalogue_words
from attribution.engine.demos.catalogue.vocabulary import MAX_LENGTH, make_tokenizer


def test_every_catalogue_word_is_one_token(tmp_path: Path) -> None:
    tokenizer = make_tokenizer(tmp_path)
    for word in catalogue_words():
        ids = tokenizer(word).input_ids
        assert len(ids) == 3, (word, tokenizer.convert_ids_to_tokens(ids))
        assert tokenizer.convert_ids_to_tokens(ids)[1] == f"{word}</w>"


def test_captions_fit_and_unknown_words_fall_back_to_letters(tmp_path: Path) -> None:
    tokenizer = make_tokenizer(tmp_path)
    ids = tokenizer("a dark casual pullover with a logo").input_ids
    assert len(ids) == 9 <= MAX_LENGTH
    spelled = tokenizer.convert_ids_to_tokens(tokenizer("zebra").input_ids)[1:-1]
    assert "".join(spelled).replace("</w>", "") == "zebra"
