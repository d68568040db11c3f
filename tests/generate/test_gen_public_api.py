from __future__ import annotations

import sftforge.generate
import sftforge.llm


def test_public_names_are_pinned() -> None:
    for mod in (sftforge.llm, sftforge.generate):
        assert sorted(mod.__all__) == sorted(set(mod.__all__))
        for name in mod.__all__:
            assert getattr(mod, name) is not None, name
    assert set(sftforge.generate.GENERATORS) == {
        "respond", "judge", "judge_pair", "self_instruct", "evol_instruct", "backtranslate",
        "doc_qa", "paraphrase", "translate",
    }  # fmt: skip
    assert {
        "LLMClient",
        "LLMConfig",
        "OpenAIHTTPProvider",
        "LocalProvider",
        "CompletionCache",
    } <= set(sftforge.llm.__all__)


def test_every_prompt_exists_in_both_languages() -> None:
    from sftforge.generate.prompts import _builtin

    en, zh = _builtin("en"), _builtin("zh")
    assert set(en) == set(zh) and len(en) == 22
    import re

    for key in en:  # the same placeholders in both languages
        assert set(re.findall(r"\{\{(\w+)\}\}", en[key])) == set(
            re.findall(r"\{\{(\w+)\}\}", zh[key])
        ), key
