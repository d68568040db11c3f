from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "llm"))

from fakeserver import FakeServer, Reply

from sftforge.llm import LLMConfig


def scripted(body: dict[str, Any]) -> Reply:
    """A deterministic stand-in model that recognises each of our prompts."""
    text = "\n".join(str(m["content"]) for m in body["messages"])
    last = str(body["messages"][-1]["content"])
    if "Rate the assistant's final answer" in text or "分别打分" in text:
        low = "BAD" in text
        s = 2 if low else 8
        return Reply(
            json.dumps(
                {"harmlessness": 9, "honesty": s, "helpfulness": s, "overall": s, "rationale": "ok"}
            )
        )
    if "Compare two answers" in text:
        a = text.split("[Answer A]")[1].split("[End of answer A]")[0]
        b = text.split("[Answer B]")[1].split("[End of answer B]")[0]
        if "BIASED" in a + b:  # a judge that always prefers the first answer
            return Reply('{"winner": "A", "rationale": "first"}')
        winner = "A" if "GOOD" in a else "B" if "GOOD" in b else "tie"
        return Reply(json.dumps({"winner": winner, "rationale": "r"}))
    if "diverse task instructions" in text or "多样化的任务指令" in text:
        start = int(re.search(r"numbered from (\d+)", text).group(1))  # type: ignore[union-attr]
        req = len(body["messages"][-1]["content"])  # varies with the examples shown
        topics = [
            "poem about rivers",
            "summary of a meeting",
            "list of fruits",
            "joke about cats",
            "recipe for soup",
            "story about robots",
            "tweet about rain",
            "slogan for a bank",
        ]
        lines = [
            f"{start}. Write a {topics[(req + k) % len(topics)]} in exactly {req % 97 + k} words"
            for k in range(3)
        ]
        lines.append(f"{start + 3}. Draw a picture of a house")
        lines.append(f"{start + 4}. Classify the sentiment of this review number {req}.")
        return Reply("\n".join(lines))
    if "regarded as a classification task" in text:
        return Reply(json.dumps({"classification": "Classify" in last}))
    if "classification task. First choose" in text:
        return Reply('{"output": "positive", "input": "I loved it."}')
    if "Come up with one example" in text:
        return Reply('```json\n{"input": "", "output": "Here is the text.",}\n```')
    if "different questions" in text:
        n = int(re.search(r"Write (\d+) different questions", text).group(1))  # type: ignore[union-attr]
        chunk = text.split("[Passage]")[1][:30].strip()
        qs = [f"Q{k} about {chunk}?" for k in range(n)]
        if n > 1:
            qs[-1] = "unanswerable?"
        return Reply(json.dumps({"questions": [*qs, "one too many?"]}))
    if "Answer the question using only" in text:
        q = last.rsplit("Question:", 1)[1].strip()
        if "unanswerable" in q:
            return Reply("NOT_IN_CONTEXT")
        if "<think>" in text:
            return Reply(f"<think>because the passage says so</think>Answer to {q}")
        return Reply(f"Answer to {q}")
    if "Prompt Rewriter" in text or "Prompt Creator" in text:
        given = text.rsplit("The given prompt:", 1)[1].strip()
        if "COPY" in given:
            return Reply(f"#Rewritten Prompt#: {given} harder")
        if "SAME" in given:
            return Reply(given)
        return Reply(f"{given} Also explain why.")
    if "Are they equal" in text:
        first = text.split("The first instruction:")[1].split("The second instruction:")[0].strip()
        second = text.split("The second instruction:")[1].split("Reply with JSON")[0].strip()
        return Reply(json.dumps({"equal": first == second}))
    if "Imagine it is the answer" in text:
        return Reply("What does the text explain?")
    if "5-point scale" in text:
        return Reply(json.dumps({"score": 5 if "good doc" in text else 2, "reason": "r"}))
    if "Translate the following text into" in text or "请把下面的文字翻译成" in text:
        src = text.split("[Text]" if "[Text]" in text else "[文字]", 1)[1].strip()
        if "DRIFT" in src and "中文" in src:
            return Reply("something else entirely")
        if "Chinese" in text or "翻译成中文" in text:
            return Reply("中文：" + src)
        return Reply(src.removeprefix("中文：") if src.startswith("中文：") else "EN: " + src)
    if "Paraphrase the following instruction" in text:
        src = text.split("[Instruction]", 1)[1].strip()
        return Reply(src if "IDENTICAL" in src else f"{src} please, kindly")
    if "impossible" in last:
        return Reply("Sorry, I cannot do that.")
    if "STOPWORDS" in last:
        return Reply("The, of... and it!")
    return Reply(content=f"ANSWER: {last}", reasoning="thought" if "REASON" in last else None)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer()
    srv.default = scripted
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def llm(server: FakeServer, tmp_path: Path) -> LLMConfig:
    return LLMConfig(
        base_url=server.base_url,
        model="fake",
        cache=str(tmp_path / "cache.sqlite"),
        backoff_base=0.01,
        max_backoff=0.05,
        concurrency=4,
    )
