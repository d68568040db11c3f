"""``--template tokenizer`` (or a template file) with the trainer profiles: TRL and axolotl render
with a tokenizer's chat template, so it becomes their ``chat_template`` (ms-swift's jinja backend:
test_profiles_swift_jinja.py); the others refuse it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tiny_chatml import CHATML

from sftforge.chat.profiles import get_profile
from sftforge.errors import TokenizeError
from sftforge.sample import Message, Sample

SAMPLE = Sample([Message("user", "你好"), Message("assistant", "Hello world")])


@pytest.mark.parametrize("name", ["trl", "axolotl"])
def test_tokenizer_template_is_the_trainers_own(tok: Any, name: str, tmp_path: Path) -> None:
    plain = get_profile(name, tok).encode(SAMPLE)  # the trainer's default: the tokenizer's
    named = get_profile(name, tok, template="tokenizer").encode(SAMPLE)
    assert (named.input_ids, named.labels) == (plain.input_ids, plain.labels)
    path = tmp_path / "t.jinja"
    path.write_text(CHATML.replace("<|im_end|>\n", "<|im_end|>"), encoding="utf-8")
    from_file = get_profile(name, tok, template=str(path)).encode(SAMPLE)
    given = get_profile(name, tok, chat_template=path.read_text()).encode(SAMPLE)
    assert (from_file.input_ids, from_file.labels) == (given.input_ids, given.labels)
    assert from_file.input_ids != plain.input_ids


@pytest.mark.parametrize("name", ["llamafactory", "xtuner"])
def test_frameworks_with_their_own_templates_refuse_it(tok: Any, name: str) -> None:
    with pytest.raises(TokenizeError, match=f"the '{name}' profile encodes with {name}'s own"):
        get_profile(name, tok, template="tokenizer")
