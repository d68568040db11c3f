"""The public names of the trainer hand-off modules, pinned (a rename must be deliberate)."""

from __future__ import annotations

import pytest

import sftforge.chat.lint
import sftforge.chat.lint_render
import sftforge.chat.profiles
import sftforge.export


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (
            sftforge.chat.profiles,
            [
                "IGNORE_INDEX",
                "PROFILES",
                "Encoded",
                "Profile",
                "Rejected",
                "encode_texts",
                "get_profile",
                "load_tokenizer",
            ],
        ),
        (
            sftforge.export,
            ["FRAMEWORKS", "ExportJob", "ExportResult", "export_samples", "local_model"],
        ),
        (
            sftforge.chat.lint,
            [
                "CHECKS",
                "Finding",
                "LintReport",
                "lint_samples",
                "lint_tokenized",
                "unreadable_finding",
            ],
        ),
        (
            sftforge.chat.lint_render,
            ["Rendered", "Renderer", "hf_renderer", "native_renderer", "token_mask"],
        ),
    ],
)
def test_public_names(module: object, names: list[str]) -> None:
    assert sorted(module.__all__) == sorted(names)  # type: ignore[attr-defined]
    assert all(hasattr(module, n) for n in names)


def test_profile_and_framework_lists() -> None:
    assert sftforge.chat.profiles.PROFILES == (
        "llamafactory",
        "xtuner",
        "swift",
        "axolotl",
        "trl",
        "litgpt",
    )
    assert sftforge.export.FRAMEWORKS == (
        "llamafactory",
        "xtuner",
        "swift",
        "axolotl",
        "litgpt",
        "trl",
    )
