"""The one template decision for axolotl: which chat template ``export --for axolotl`` writes into
``axolotl.yaml`` and ``tokenize --profile axolotl`` encodes with, from (tokenizer, ``--template``).

axolotl renders with a Jinja chat template chosen by ``chat_template`` in its config
(``utils/chat_templates/base.py``, ``get_chat_template``): ``tokenizer_default`` (the tokenizer's
own), a name of one of its bundled templates, or ``jinja`` with ``chat_template_jinja`` (a
template file, read relative to the folder axolotl runs from). The decision:

* no ``--template``, or ``--template tokenizer``: the tokenizer's own template,
  ``chat_template: tokenizer_default``;
* any other ``--template`` (a sftforge template name, ``tokenizer:NAME``, a ``.jinja`` file, a
  model folder): its Jinja source, written into the export folder as ``chat_template.jinja`` with
  ``chat_template: jinja`` - axolotl then renders exactly the text the profile renders (axolotl's
  bundled templates of the same name are other texts). When that source is the tokenizer's own,
  it stays ``tokenizer_default``; when it differs, a note says the model will be trained on a format
  that is not its tokenizer's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import TemplateError

__all__ = ["JINJA_FILE", "AxolotlTemplate", "decide_axolotl_template"]

JINJA_FILE = "chat_template.jinja"  # in the export folder, next to axolotl.yaml


@dataclass
class AxolotlTemplate:
    """The decision: the config keys, the Jinja source axolotl will render with (None when the
    tokenizer is not at hand: ``tokenizer_default`` then stands for whatever the model has), and
    notes for the user."""

    config: dict[str, str]
    source: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def file(self) -> str | None:
        """The template file the export writes, when the config names one."""
        return self.config.get("chat_template_jinja")


def decide_axolotl_template(tokenizer: Any, template: str | None) -> AxolotlTemplate:
    """The chat template axolotl is to render with, given the model's tokenizer (or None when it
    is not available) and ``--template`` (or None)."""
    own = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
    own = own if isinstance(own, str) and own else None
    if template is None or template == "tokenizer":
        if tokenizer is not None and own is None:
            raise TemplateError(
                "the tokenizer has no chat template, so axolotl's chat_template: "
                "tokenizer_default would fail.",
                field="template",
                hint="pass --template NAME (e.g. chatml) or a .jinja file",
            )
        notes = [] if tokenizer is not None else [_UNCHECKED]
        return AxolotlTemplate({"chat_template": "tokenizer_default"}, own, notes)
    from ..templates import resolve_template

    if tokenizer is None and template.startswith("tokenizer:"):
        raise TemplateError(
            f"--template {template} needs the model's tokenizer.",
            field="template",
            hint="give --model as a local model folder, or --tokenizer PATH",
        )
    source = resolve_template(template, tokenizer).source
    if own is not None and source == own:
        return AxolotlTemplate({"chat_template": "tokenizer_default"}, own)
    notes = [f"the chat template is '{template}', written as {JINJA_FILE} (chat_template: jinja)"]
    if own is not None:
        notes.append(
            f"warning: '{template}' is not the tokenizer's own chat template: the model is trained "
            "on a format its tokenizer does not render at inference unless you ship this template"
        )
    return AxolotlTemplate(
        {"chat_template": "jinja", "chat_template_jinja": JINJA_FILE}, source, notes
    )


_UNCHECKED = (
    "chat_template: tokenizer_default uses the model's own chat template; the model's tokenizer "
    "was not available to check it has one (give --model as a local folder or --tokenizer)"
)
