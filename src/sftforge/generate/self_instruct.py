"""self_instruct: new instructions from seed tasks (Wang et al. 2023; Stanford Alpaca's seeds).

Seeds are rows in the Stanford ``seed_tasks.jsonl`` shape (``instruction``, ``instances`` of
``input``/``output``, ``is_classification``). Stage 1 runs rounds of ``concurrency`` requests;
each shows ``seed_examples`` random seed instructions plus ``machine_examples`` kept machine
ones (deterministic per request number and ``seed``, so a rerun replays from the cache) and asks
for ``per_request`` new ones. Candidates are kept in request order when they pass the heuristic
filters of the paper (length, words a text model cannot act on, "write a program", leading
punctuation, wrong script) and have ROUGE-L below ``max_rouge`` against every seed and kept
instruction (CJK-aware). Stage 2 asks whether each kept instruction is a classification task,
then makes an instance: output first for classification (so the label is chosen before the input
and does not follow the input's bias), input first otherwise. Each instance becomes a Sample.

Eliminated candidates go to the rejects list with the reason and the value (e.g. the ROUGE-L).
A failed proposal request is listed as failed (stage ``request``); rerun the same command to
redo it (finished requests come from the cache). A failed instance call is an ordinary failed
item that ``sftforge generate retry`` redoes.
"""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass
from typing import Any

from ..errors import BudgetExceeded, LLMError
from ..llm.client import DryRunStop, LLMClient
from ..llm.runner import ItemFailure, RunResult, item_progress, run_items
from ..sample import Message, Sample
from .base import Generator, llm_meta, register_generator
from .rouge import RougeIndex, rouge_tokens

__all__ = ["SelfInstruct", "heuristic_reason", "parse_numbered"]

BLACKLIST_EN = (
    "image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps",
    "draw", "plot", "go to", "video", "audio", "music", "flowchart", "diagram",
)  # fmt: skip
BLACKLIST_ZH = (
    "图片",
    "图像",
    "照片",
    "画出",
    "绘制",
    "视频",
    "音频",
    "音乐",
    "文件",
    "地图",
    "流程图",
    "示意图",
)
_NUMBERED = re.compile(r"^\s*(\d+)\s*[.、)）:：]\s*(.+?)\s*$")
_PREFIX = re.compile(r"^(instruction|task|指令|任务)\s*[:：]\s*", re.I)

_CLS = {
    "type": "object",
    "required": ["classification"],
    "properties": {"classification": {"type": "boolean"}},
}
_INST = {
    "type": "object",
    "required": ["input", "output"],
    "properties": {"input": {"type": "string"}, "output": {"type": "string", "minLength": 1}},
}


def parse_numbered(text: str, *, truncated: bool = False) -> list[str]:
    """Instructions from a numbered list; a cut-off last line is dropped when ``truncated``."""
    found = []
    for line in text.splitlines():
        m = _NUMBERED.match(line)
        if m:
            found.append(_PREFIX.sub("", m.group(2)).strip())
    if truncated and found:
        found.pop()
    return [f for f in found if f]


def heuristic_reason(
    instruction: str, lang: str, *, min_tokens: int = 3, max_tokens: int = 150
) -> str | None:
    """Why an instruction fails the paper's heuristic filters, or ``None`` when it passes."""
    n = len(rouge_tokens(instruction))
    if n <= min_tokens:
        return "too short"
    if n > max_tokens:
        return "too long"
    low = instruction.lower()
    words = set(re.findall(r"[a-z]+", low))
    if any((w in words) if " " not in w else (w in low) for w in BLACKLIST_EN):
        return "asks for something a text model cannot do (image, file, audio...)"
    if any(w in instruction for w in BLACKLIST_ZH):
        return "asks for something a text model cannot do (image, file, audio...)"
    if low.startswith("write a program") or instruction.startswith("编写一个程序"):
        return "'write a program' tasks are ambiguous"
    if not instruction[0].isalnum():
        return "starts with punctuation"
    if lang == "en" and not instruction[0].isascii():
        return "does not start with an English character"
    if lang == "zh" and not re.search(r"[\u4e00-\u9fff]", instruction):
        return "has no Chinese characters"
    return None


@register_generator
@dataclass(kw_only=True)
class SelfInstruct(Generator):
    task = "self_instruct"
    input_kind = "seed"
    calls_per_item = 1.0

    num_instructions: int = 100
    per_request: int = 8
    seed_examples: int = 6
    machine_examples: int = 2
    max_rouge: float = 0.7
    max_requests: int | None = None  # default: 4 × the requests needed if every one were kept
    seed: int = 0

    def estimate_calls(self, counted: int) -> float:
        """Proposal requests if every proposal were kept, plus two calls per instruction; the
        dry run counted only the first round of proposals, so ``counted`` is not used."""
        return -(-self.num_instructions // max(1, self.per_request)) + 2 * self.num_instructions

    def _examples(self, seeds: list[dict[str, Any]], kept: list[str], i: int) -> list[str]:
        rng = random.Random(f"{self.seed}-{i}")
        picks = [s["instruction"] for s in rng.sample(seeds, min(self.seed_examples, len(seeds)))]
        if kept:
            picks += rng.sample(kept, min(self.machine_examples, len(kept)))
        rng.shuffle(picks)
        return picks

    async def _propose(
        self, client: LLMClient, lang: str, examples: list[str], i: int
    ) -> list[str]:
        shown = "\n".join(f"{k}. {e}" for k, e in enumerate(examples, 1))
        prompt = self.render(
            "self_instruct.generate",
            lang,
            examples=shown,
            count=self.per_request,
            start=len(examples) + 1,
        )
        _, comp = await self.ask(client, prompt, _request=i)
        cut = isinstance(comp.raw, dict) and comp.raw.get("finish_reason") == "length"
        return parse_numbered(comp.text, truncated=cut)

    async def propose(
        self, client: LLMClient, items: list[Any], *, progress: bool = False
    ) -> tuple[list[dict[str, Any]], RunResult[Any, Sample]]:
        """Stage one, the proposal rounds (each round reads the instructions kept before it):
        the stage-two items (the instructions kept, and the items given at stage two) and the
        result so far (failed requests, a budget stop). The Ray executor runs this in one task
        and spreads stage two over its workers."""
        seeds = [it for it in items if it.get("stage") not in ("instances", "request")]
        pending = [it for it in items if it.get("stage") == "instances"]
        res: RunResult[Any, Sample] = RunResult()
        for it in items:  # proposal requests depend on the pool of their run: rerun that run
            if it.get("stage") == "request":
                why = "a proposal request is redone by rerunning the self_instruct command (cached requests are free)"
                res.failures.append(ItemFailure(it, why))
        if seeds:
            label = "self_instruct instructions"
            with item_progress(progress, label, self.num_instructions, client.usage) as prog:
                pending += await self._stage_one(client, seeds, res, prog)
        return pending, res

    async def run_all(
        self, client: LLMClient, items: list[Any], *, progress: bool = False
    ) -> RunResult[Any, Sample]:
        pending, res = await self.propose(client, items, progress=progress)
        if res.stopped:
            res.unfinished += pending
            return res
        two = await run_items(
            pending,
            self.worker(client, pending),
            concurrency=client.concurrency,
            progress=progress,
            label="self_instruct instances",
            usage=client.usage,
        )
        two.failures = res.failures + two.failures
        two.dry_counted += res.dry_counted
        return two

    async def _stage_one(
        self,
        client: LLMClient,
        seeds: list[dict[str, Any]],
        res: RunResult[Any, Sample],
        prog: Any = None,
    ) -> list[dict[str, Any]]:
        lang = self.lang_for(" ".join(s["instruction"] for s in seeds[:20]))
        index = RougeIndex()
        for s in seeds:
            index.add(s["instruction"])
        kept: list[str] = []
        limit = self.max_requests or 4 * -(-self.num_instructions // max(1, self.per_request))
        i = 0
        while len(kept) < self.num_instructions and i < limit:
            batch = list(range(i, min(limit, i + client.concurrency)))
            shown = {j: self._examples(seeds, kept, j) for j in batch}
            outs = await asyncio.gather(
                *(self._propose(client, lang, shown[j], j) for j in batch), return_exceptions=True
            )
            for j, out in zip(batch, outs, strict=True):
                if isinstance(out, BudgetExceeded):
                    res.stopped = res.stopped or str(out)
                elif isinstance(out, DryRunStop):
                    res.dry_counted += 1
                elif isinstance(out, LLMError):
                    res.failures.append(
                        ItemFailure({"stage": "request", "request": j}, out.message)
                    )
                elif isinstance(out, BaseException):
                    raise out
                else:
                    self._keep(out, lang, index, kept)
            if prog is not None:
                prog.update(count=min(len(kept), self.num_instructions))
            if res.stopped or all(isinstance(o, DryRunStop) for o in outs):
                break
            i = batch[-1] + 1
        kept = kept[: self.num_instructions]
        return [{"stage": "instances", "instruction": k, "lang": lang} for k in kept]

    def _keep(self, candidates: list[str], lang: str, index: RougeIndex, kept: list[str]) -> None:
        for cand in candidates:
            reason = heuristic_reason(cand, lang)
            probe = Sample(messages=[Message("user", cand)], meta={"generator": self.task})
            if reason:
                self.drop(probe, reason)
                continue
            score = index.max_score(cand, stop_at=self.max_rouge)
            if score >= self.max_rouge:
                self.drop(
                    probe,
                    f"ROUGE-L {score:.2f} to a kept instruction (max {self.max_rouge})",
                    round(score, 4),
                )
                continue
            index.add(cand)
            kept.append(cand)

    async def process(self, client: LLMClient, item: dict[str, Any]) -> list[Sample]:
        instr, lang = item["instruction"], item.get("lang") or self.lang_for(item["instruction"])
        ask = self.render("self_instruct.is_classification", lang, instruction=instr)
        cls, _, _ = await self.ask_json(client, ask, _CLS, lang)
        is_cls = bool(cls["classification"])
        name = "self_instruct.instances_output_first" if is_cls else "self_instruct.instances"
        value, msgs, comp = await self.ask_json(
            client, self.render(name, lang, instruction=instr), _INST, lang
        )
        inp, outp = value["input"].strip(), value["output"].strip()
        user = f"{instr}\n\n{inp}" if inp else instr
        sample = Sample(
            messages=[Message("user", user), Message("assistant", outp)],
            meta=llm_meta(
                self.task,
                client,
                msgs,
                comp,
                instruction_from="llm",
                is_classification=is_cls,
                instruction=instr,
                input=inp,
                task_type="classification" if is_cls else "generation",
            ),
        )
        if not outp or outp == inp:
            self.drop(sample, "the output is empty or repeats the input")
            return []
        return [sample]
