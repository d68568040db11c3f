"""``sftforge lint``: find what silently spoils a fine-tune before the trainer sees it.

Checks on conversations (each a :class:`Finding` with a check code and severity):

========================  =======  ==========================================================
check                     level    what it means
========================  =======  ==========================================================
``role-order``            error    ``validate_sample`` problems (system not first, two users...)
``tool-call-json``        error    tool-call arguments that are not a JSON object, tool
                                   definitions without a name, ``<tool_call>`` blocks in an
                                   answer whose body is not JSON
``think-in-content``      warning  ``<think>``/``</think>`` text left in a turn's content
``empty-user-turn``       warning  an empty user turn before an answer (legal: read, converted
                                   and trained on; often a "continue" that lost its text)
``special-token``         error    a special token of the tokenizer inside a turn's text
                                   (injection: it would be tokenized as a control token)
``no-eos``                error    the tokenizer has no EOS token
``pad-is-eos``            warning  pad = EOS: collators that mask padding mask the real EOS
``double-bos``            error    the rendered ids start with two BOS tokens
``bos-in-template``       warning  the render starts with BOS and the tokenizer adds another
                                   when a trainer tokenizes the text with special tokens
``no-turn-end``           error    nothing marks the end of the last answer (no EOS or other
                                   special token after it)
``eos-untrained``         error    the template's trained spans leave out the end-of-turn token
``no-generation-marks``   warning  the template has no ``{% generation %}`` marks: which tokens
                                   are trained cannot be checked
``fully-masked``          error    no trained token (after truncation to ``max_len``)
``too-long``              warning  longer than ``max_len`` tokens (cut or dropped by trainers)
``prompt-not-prefix``     error    the prompt rendered alone (generation prompt added) is not a
                                   prefix of the full render: inference sees other tokens
``unreadable``            error    the record cannot be read as a conversation at all (a
                                   tool-call problem of that kind is reported as
                                   ``tool-call-json`` instead); the other records are checked
========================  =======  ==========================================================

``identity-system-prompt`` (warning): the template's default system prompt names another model
than the identity set does (``chat/lint_identity.py``).

Tokenized rows (``input_ids``/``labels`` from Parquet or JSONL) get ``double-bos``, ``no-eos``
(no EOS id in the row), ``eos-untrained``, ``fully-masked``, ``too-long``, ``labels-length`` and
``pad-is-eos``. The renderer is injectable (:class:`~sftforge.chat.lint_render.Renderer`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import SftforgeError
from ..progress import track
from ..sample import Sample, validate_sample
from .encode import special_texts
from .lint_render import Renderer, token_mask
from .profiles.trl import to_trl_messages
from .template_facts import TemplateFacts

__all__ = [
    "CHECKS",
    "Finding",
    "LintReport",
    "lint_samples",
    "lint_tokenized",
    "unreadable_finding",
]

CHECKS: dict[str, str] = {
    "role-order": "error",
    "tool-call-json": "error",
    "think-in-content": "warning",
    "empty-user-turn": "warning",
    "special-token": "error",
    "no-eos": "error",
    "pad-is-eos": "warning",
    "double-bos": "error",
    "bos-in-template": "warning",
    "no-turn-end": "error",
    "eos-untrained": "error",
    "no-generation-marks": "warning",
    "fully-masked": "error",
    "too-long": "warning",
    "prompt-not-prefix": "error",
    "labels-length": "error",
    "render-failed": "error",
    "unreadable": "error",
    "identity-system-prompt": "warning",
}
_TOOL_BLOCK = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_HIST_EDGES = (64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)


@dataclass(slots=True)
class Finding:
    check: str
    message: str
    sample_id: str | None = None
    row: int | None = None

    @property
    def severity(self) -> str:
        return CHECKS[self.check]

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "sample_id": self.sample_id,
            "row": self.row,
        }


@dataclass
class LintReport:
    rows: int = 0
    findings: list[Finding] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    max_len: int | None = None
    template: TemplateFacts | None = None  # what the chat template does (template_facts.py)

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self.findings)

    def counts(self) -> dict[str, int]:
        return dict(Counter(f.check for f in self.findings))

    def histogram(self) -> list[tuple[str, int]]:
        """Token lengths in power-of-two buckets: ('<=64', n), ..., ('>32768', n)."""
        buckets: Counter[str] = Counter()
        for n in self.lengths:
            edge = next((e for e in _HIST_EDGES if n <= e), None)
            buckets[f"<={edge}" if edge else f">{_HIST_EDGES[-1]}"] += 1
        order = [f"<={e}" for e in _HIST_EDGES] + [f">{_HIST_EDGES[-1]}"]
        return [(k, buckets[k]) for k in order if buckets[k]]

    @property
    def over_max(self) -> int:
        return 0 if self.max_len is None else sum(n > self.max_len for n in self.lengths)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "errors": self.errors,
            "warnings": self.warnings,
            "counts": self.counts(),
            "max_len": self.max_len,
            "over_max": self.over_max,
            "length_histogram": dict(self.histogram()),
            "template": self.template.to_dict() if self.template else None,
            "findings": [f.to_dict() for f in self.findings],
        }


def _content_checks(sample: Sample, row: int, specials: list[str]) -> list[Finding]:
    out = [Finding("role-order", p, sample.id, row) for p in validate_sample(sample)]
    for tool in sample.tools or []:
        if not isinstance(tool, dict) or not (
            tool.get("name") or tool.get("function", {}).get("name")
        ):
            out.append(Finding("tool-call-json", "a tool definition has no name", sample.id, row))
    for i, m in enumerate(sample.messages):
        where = f"message {i} ({m.role})"
        for c in m.tool_calls or []:
            if not isinstance(c.arguments, dict):
                out.append(
                    Finding(
                        "tool-call-json",
                        f"{where}: arguments of '{c.name}' are not a JSON object",
                        sample.id,
                        row,
                    )
                )
        if m.role == "assistant":
            for body in _TOOL_BLOCK.findall(m.content):
                try:
                    json.loads(body)
                except json.JSONDecodeError:
                    out.append(
                        Finding(
                            "tool-call-json",
                            f"{where}: <tool_call> body is not JSON",
                            sample.id,
                            row,
                        )
                    )
        if m.role == "user" and i < len(sample.messages) - 1 and not m.content.strip():
            # legal (validate_sample accepts it) but worth a look; an empty last turn is an error
            out.append(Finding("empty-user-turn", f"{where}: empty user turn", sample.id, row))
        texts = [m.content] + ([m.reasoning] if m.reasoning else [])
        if any("<think>" in t or "</think>" in t for t in texts):
            out.append(
                Finding(
                    "think-in-content", f"{where}: <think> text left in the content", sample.id, row
                )
            )
        hits = [s for s in specials if any(s in t for t in texts)]
        if hits:
            out.append(
                Finding("special-token", f"{where}: contains {', '.join(hits[:3])}", sample.id, row)
            )
    return out


def _global_checks(tokenizer: Any) -> list[Finding]:
    out = []
    eos = getattr(tokenizer, "eos_token_id", None)
    if eos is None:
        out.append(Finding("no-eos", "the tokenizer has no EOS token: answers never learn to stop"))
    elif getattr(tokenizer, "pad_token_id", None) == eos:
        out.append(
            Finding(
                "pad-is-eos",
                f"pad token = EOS ({tokenizer.eos_token!r}): a collator that sets labels of padding "
                "to -100 also masks every real EOS; use a distinct pad token",
            )
        )
    return out


def _turn_end_ids(tokenizer: Any) -> set[int]:
    """EOS and every special token except BOS: whatever can close an answer."""
    ids = {tokenizer.convert_tokens_to_ids(t) for t in special_texts(tokenizer)}
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    ids.discard(tokenizer.bos_token_id)
    ids.discard(None)
    return ids


@dataclass
class _Ctx:
    tokenizer: Any
    render: Renderer
    max_len: int | None
    turn_end: set[int]
    specials: list[str]
    bos_added: bool  # does the tokenizer add BOS on a plain call?


def _render_checks(ctx: _Ctx, sample: Sample, row: int, report: LintReport) -> None:
    from ..errors import SftforgeError

    msgs = to_trl_messages(sample)
    sid = sample.id
    try:
        full = ctx.render(msgs, tools=sample.tools)
    except SftforgeError as exc:
        report.findings.append(Finding("render-failed", exc.message, sid, row))
        return
    tok = ctx.tokenizer
    enc = tok(full.text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    report.lengths.append(len(ids))
    bos = tok.bos_token_id
    if bos is not None and len(ids) >= 2 and ids[0] == ids[1] == bos:
        report.findings.append(
            Finding("double-bos", "the render starts with two BOS tokens", sid, row)
        )
    elif bos is not None and ids[:1] == [bos] and ctx.bos_added:
        report.findings.append(
            Finding(
                "bos-in-template",
                "the render starts with BOS and tokenizing it with special tokens adds a second",
                sid,
                row,
            )
        )
    answers = [i for i, m in enumerate(msgs) if m["role"] == "assistant"]
    if answers and sample.messages[answers[-1]].content:
        end = full.text.rfind(sample.messages[answers[-1]].content)
        tail = full.text[end + len(sample.messages[answers[-1]].content) :] if end >= 0 else ""
        closers = [t for t in ctx.specials if t != tok.bos_token]
        if end >= 0 and not any(t in tail for t in closers):
            report.findings.append(
                Finding(
                    "no-turn-end", "no EOS or end-of-turn token after the last answer", sid, row
                )
            )
    if full.trained_spans is not None:
        mask = token_mask(offsets, sorted(full.trained_spans))
        trained = [t for t, m in zip(ids, mask, strict=True) if m]
        if trained and not ctx.turn_end.intersection(trained):
            report.findings.append(
                Finding(
                    "eos-untrained", "no end-of-turn token is inside the trained spans", sid, row
                )
            )
        kept = mask[: ctx.max_len] if ctx.max_len is not None else mask
        if not any(kept):
            why = f" after truncation to {ctx.max_len}" if trained else ""
            report.findings.append(Finding("fully-masked", f"no trained token{why}", sid, row))
    if ctx.max_len is not None and len(ids) > ctx.max_len:
        report.findings.append(Finding("too-long", f"{len(ids)} tokens > {ctx.max_len}", sid, row))
    if answers and answers[-1] > 0:
        try:
            prompt = ctx.render(msgs[: answers[-1]], tools=sample.tools, add_generation_prompt=True)
        except SftforgeError:
            return
        if not full.text.startswith(prompt.text):
            k = next(
                (i for i, (a, b) in enumerate(zip(prompt.text, full.text, strict=False)) if a != b),
                len(full.text),
            )
            report.findings.append(
                Finding(
                    "prompt-not-prefix",
                    f"the prompt alone differs from the full render at character {k}: {prompt.text[k : k + 30]!r}",
                    sid,
                    row,
                )
            )


_TOOL_FIELDS = ("tool_calls", "function_call", "arguments", "tools")


def unreadable_finding(row: int, error: SftforgeError) -> Finding:
    """A record the reader refused, as a finding: ``tool-call-json`` when the field is a tool
    call or tool definition, else ``unreadable``."""
    where = error.field or ""
    check = "tool-call-json" if any(k in where for k in _TOOL_FIELDS) else "unreadable"
    return Finding(check, error.message, error.sample_id, row)


def lint_samples(
    samples: Sequence[Sample],
    tokenizer: Any | None = None,
    *,
    render: Renderer | None = None,
    max_len: int | None = None,
    rows: Sequence[int] | None = None,
    unreadable: Sequence[tuple[int, SftforgeError]] = (),
    identity_names: Sequence[str] = (),
    template: TemplateFacts | None = None,
) -> LintReport:
    """Every check on conversations; render checks need a tokenizer (and its or a given template).

    ``rows`` gives each sample's row in the input (default: its position) and ``unreadable`` the
    records that could not be read, ``(row, error)``: each becomes a finding. ``identity_names``
    adds model names to those of the identity samples for ``identity-system-prompt``;
    ``template`` (the chat template's facts) is carried into the report.
    """
    report = LintReport(rows=len(samples) + len(unreadable), max_len=max_len, template=template)
    report.findings += [unreadable_finding(r, e) for r, e in unreadable]
    specials = special_texts(tokenizer) if tokenizer is not None else []
    ctx = None
    if tokenizer is not None:
        report.findings += _global_checks(tokenizer)
        if render is None:
            from .lint_render import native_renderer

            render = native_renderer(tokenizer)
        probe = tokenizer("a")["input_ids"]
        ctx = _Ctx(
            tokenizer,
            render,
            max_len,
            _turn_end_ids(tokenizer),
            specials,
            probe[:1] == [tokenizer.bos_token_id],
        )
    for i, sample in track(enumerate(samples), "lint", total=len(samples), every=64, line=True):
        row = rows[i] if rows is not None else i
        report.findings += _content_checks(sample, row, specials)
        if ctx is not None:
            _render_checks(ctx, sample, row, report)
    if ctx is not None and samples:
        from .lint_identity import identity_mismatch

        mismatch = identity_mismatch(samples, ctx.render, identity_names)
        if mismatch is not None:
            report.findings.append(Finding("identity-system-prompt", mismatch))
        probe_msgs = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
        if ctx.render(probe_msgs).trained_spans is None:
            report.findings.append(
                Finding(
                    "no-generation-marks",
                    "the template has no {% generation %} marks: trained tokens cannot be checked",
                )
            )
    return report


def lint_tokenized(
    rows: Sequence[dict[str, Any]], tokenizer: Any | None = None, *, max_len: int | None = None
) -> LintReport:
    """Checks on already tokenized rows (``input_ids``, ``labels``)."""
    report = LintReport(rows=len(rows), max_len=max_len)
    bos = eos = None
    if tokenizer is not None:
        report.findings += _global_checks(tokenizer)
        bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    for row, r in track(enumerate(rows), "lint", total=len(rows), every=256, line=True):
        ids, labels = list(r["input_ids"]), list(r.get("labels") or [])
        sid = r.get("id")
        report.lengths.append(len(ids))
        if labels and len(labels) != len(ids):
            report.findings.append(
                Finding("labels-length", f"{len(labels)} labels for {len(ids)} ids", sid, row)
            )
            continue
        if bos is not None and len(ids) >= 2 and ids[0] == ids[1] == bos:
            report.findings.append(
                Finding("double-bos", "the row starts with two BOS tokens", sid, row)
            )
        if eos is not None and eos not in ids:
            report.findings.append(Finding("no-eos", "no EOS token in the row", sid, row))
        elif eos is not None and labels and eos not in labels:
            report.findings.append(
                Finding("eos-untrained", "the EOS token is never trained", sid, row)
            )
        if labels:
            kept = labels[:max_len] if max_len is not None else labels
            if all(t == -100 for t in kept):
                report.findings.append(Finding("fully-masked", "every label is -100", sid, row))
        if max_len is not None and len(ids) > max_len:
            report.findings.append(Finding("too-long", f"{len(ids)} tokens > {max_len}", sid, row))
    return report
