from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeServer, Reply

from sftforge.errors import BudgetExceeded, LLMError
from sftforge.llm import LLMClient, LLMConfig, OpenAIHTTPProvider, run_items


def _cfg(server: FakeServer, tmp_path: Path, **kw: Any) -> LLMConfig:
    base = {"base_url": server.base_url, "model": "fake", "cache": str(tmp_path / "c.sqlite")}
    base.update(backoff_base=0.01, max_backoff=0.05)
    base.update(kw)
    return LLMConfig(**base)


def _ask(client: LLMClient, text: str, **params: Any) -> Any:
    return client.complete([{"role": "user", "content": text}], **params)


def test_rerun_sends_nothing(server: FakeServer, tmp_path: Path) -> None:
    async def job() -> list[str]:
        client = _cfg(server, tmp_path).build_client()
        try:
            return [(await _ask(client, f"q{i}")).text for i in range(5)]
        finally:
            await client.aclose()

    first = asyncio.run(job())
    assert len(server.log) == 5
    second = asyncio.run(job())
    assert second == first == [f"ANSWER: q{i}" for i in range(5)]
    assert len(server.log) == 5  # nothing sent the second time


def test_identical_calls_in_flight_are_sent_once(server: FakeServer, tmp_path: Path) -> None:
    server.add("same", Reply("x", delay=0.2))

    async def job() -> list[str]:
        client = _cfg(server, tmp_path, cache=None).build_client()
        outs = await asyncio.gather(*(_ask(client, "same") for _ in range(4)))
        await client.aclose()
        return [o.text for o in outs]

    assert asyncio.run(job()) == ["x"] * 4
    assert server.count("same") == 1


def test_429_retry_after_and_500_are_retried(server: FakeServer, tmp_path: Path) -> None:
    server.add(
        "flaky", Reply(status=429, headers={"Retry-After": "0.3"}), Reply(status=500), Reply("fine")
    )

    async def job() -> tuple[str, Any]:
        client = _cfg(server, tmp_path).build_client()
        out = await _ask(client, "flaky")
        await client.aclose()
        return out.text, client.summary

    text, summary = asyncio.run(job())
    assert text == "fine"
    times = [r.t for r in server.log]
    assert len(times) == 3 and times[1] - times[0] >= 0.3  # honoured Retry-After
    assert (summary.requests, summary.retries, summary.failures) == (3, 2, 0)


def test_timeouts_are_retried_then_give_up(server: FakeServer, tmp_path: Path) -> None:
    server.add("once-slow", Reply("late", delay=2.0), Reply("quick"))
    server.add("slow", Reply("late", delay=2.0))

    async def job(text: str) -> str:
        client = _cfg(server, tmp_path, timeout=0.5, max_retries=2).build_client()
        try:
            return (await _ask(client, text)).text
        finally:
            await client.aclose()

    assert asyncio.run(job("once-slow")) == "quick"
    with pytest.raises(LLMError, match=r"gave up after 3 attempts: timeout after 0.5s"):
        asyncio.run(job("slow"))
    assert server.count("slow") == 5  # 2 for once-slow + 3 for slow


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        ([Reply(raw="{not json"), Reply("good")], "good"),
        ([Reply(raw='{"choices": []}'), Reply("good")], "good"),
        ([Reply(""), Reply("good")], "good"),
        ([Reply("", reasoning="only thinking"), Reply("good")], "good"),
    ],
)
def test_malformed_bodies_are_retried(
    server: FakeServer, tmp_path: Path, replies: list[Reply], expected: str
) -> None:
    server.add("m", *replies)

    async def job() -> tuple[str, int]:
        client = _cfg(server, tmp_path).build_client()
        out = (await _ask(client, "m")).text
        await client.aclose()
        return out, client.summary.usage.total_tokens

    text, tokens = asyncio.run(job())
    assert text == expected
    # an answered attempt is paid for even when empty; an unreadable body reports no usage
    assert tokens == (15 if replies[0].raw is not None else 30)


def test_client_errors_fail_at_once_and_hide_the_key(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-secret-123456")
    server.add("auth", Reply(status=401, raw='{"error": "bad key sk-secret-123456"}'))

    async def job() -> None:
        client = _cfg(server, tmp_path, api_key_env="FAKE_KEY").build_client()
        assert "sk-secret" not in repr(client.provider)
        try:
            await _ask(client, "auth")
        finally:
            await client.aclose()

    with pytest.raises(LLMError) as info:
        asyncio.run(job())
    assert "sk-secret" not in str(info.value) and "***" in str(info.value)
    assert server.count("auth") == 1
    assert server.log[0].headers["Authorization"] == "Bearer sk-secret-123456"


def test_missing_key_variable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_KEY", raising=False)
    with pytest.raises(LLMError, match="NOPE_KEY"):
        OpenAIHTTPProvider(base_url="http://127.0.0.1:9/v1", model="m", api_key_env="NOPE_KEY")


def test_reasoning_field_and_think_block_are_split(server: FakeServer, tmp_path: Path) -> None:
    server.add("r1", Reply("final", reasoning="chain"))
    server.add("r2", Reply("<think>内部推理</think>\n回答"))

    async def job() -> list[tuple[str, str | None]]:
        client = _cfg(server, tmp_path).build_client()
        outs = [await _ask(client, "r1"), await _ask(client, "r2")]
        await client.aclose()
        return [(o.text, o.reasoning) for o in outs]

    assert asyncio.run(job()) == [("final", "chain"), ("回答", "内部推理")]


def test_complete_json_repairs_then_sends_the_error_back(
    server: FakeServer, tmp_path: Path
) -> None:
    schema = {"type": "object", "required": ["score"], "properties": {"score": {"type": "integer"}}}
    server.add("fenced", Reply('```json\n{"score": 4,}\n```'))
    server.add("could not be used", Reply('{"score": 9}'))
    server.add("bad", Reply("I think it is good"))

    async def job() -> list[Any]:
        client = _cfg(server, tmp_path).build_client()
        a, _ = await client.complete_json([{"role": "user", "content": "fenced"}], schema)
        b, _ = await client.complete_json([{"role": "user", "content": "bad"}], schema)
        await client.aclose()
        return [a, b]

    assert asyncio.run(job()) == [{"score": 4}, {"score": 9}]
    assert server.count("bad") == 2  # the bad reply, then the correction request


def _max_in_window(times: list[float], width: float) -> int:
    """The most arrivals inside any interval [t, t + width) that starts at an arrival."""
    times = sorted(times)
    return max(sum(1 for u in times[i:] if u < t + width) for i, t in enumerate(times))


# arrivals are timed at the server, so loopback and scheduling delays shift them a little; the
# windows we count in are this much shorter than the limiter's window
JITTER = 0.2


def test_rate_limit_holds_in_every_window(server: FakeServer, tmp_path: Path) -> None:
    rpm, window = 4, 1.0

    async def job() -> None:
        client = _cfg(
            server, tmp_path, rpm=rpm, window=window, concurrency=8, cache=None
        ).build_client()
        await asyncio.gather(*(_ask(client, f"r{i}") for i in range(14)))
        await client.aclose()

    asyncio.run(job())
    times = [r.t for r in server.log]
    assert len(times) == 14
    assert _max_in_window(times, window - JITTER) <= rpm
    # and the limit is used, not over-throttled: some window does hold rpm calls
    assert _max_in_window(times, window + JITTER) >= rpm


def test_token_rate_limit_counts_usage(server: FakeServer, tmp_path: Path) -> None:
    server.default = lambda body: Reply("a", usage={"prompt_tokens": 40, "completion_tokens": 10})

    async def job() -> None:
        client = _cfg(
            server, tmp_path, tpm=120, window=1.0, cache=None, params={"max_tokens": 10}
        ).build_client()
        # prompts of ~44 estimated tokens + 10 max_tokens: the estimate is close to the usage
        await asyncio.gather(*(_ask(client, f"t{i}" + "x" * 150) for i in range(6)))
        await client.aclose()

    asyncio.run(job())
    # about 54 tokens per call and 120 per window: at most 2 calls start in any window
    assert _max_in_window([r.t for r in server.log], 1.0 - JITTER) == 2


def test_budget_stops_cleanly_and_resume_finishes(server: FakeServer, tmp_path: Path) -> None:
    items = [f"item{i}" for i in range(10)]

    async def job(budget: int | None) -> Any:
        client = _cfg(
            server, tmp_path, concurrency=1, max_tokens_budget=budget, params={"max_tokens": 5}
        ).build_client()

        async def work(it: str) -> list[str]:
            return [(await _ask(client, it)).text]

        res = await run_items(items, work, concurrency=1)
        await client.aclose()
        return res, client.summary

    res, summary = asyncio.run(job(60))
    # each call is reserved at ~12 tokens and spends 15: the 4th would pass 60
    assert res.stopped is not None and "token budget of 60" in res.stopped
    assert res.outputs == [f"ANSWER: item{i}" for i in range(4)]
    assert res.unfinished == items[4:] and res.failures == []
    assert summary.usage.total_tokens == 60
    res2, summary2 = asyncio.run(job(None))
    assert res2.outputs == [f"ANSWER: {it}" for it in items]
    assert (summary2.requests, summary2.cache_hits) == (6, 4)


def test_cost_budget_uses_the_price_table(server: FakeServer, tmp_path: Path) -> None:
    prices = {"fake": {"input": 1000.0, "output": 2000.0}}  # per million tokens

    async def job() -> Any:
        client = _cfg(
            server, tmp_path, prices=prices, max_cost=0.05, params={"max_tokens": 5}
        ).build_client()
        await _ask(client, "c1")
        await _ask(client, "c2")
        with pytest.raises(BudgetExceeded, match="cost budget"):
            await _ask(client, "c3")
        await client.aclose()
        return client.summary

    summary = asyncio.run(job())
    # 10 prompt tokens * 0.001 + 5 output * 0.002 = 0.02 per call
    assert summary.to_dict()["cost"] == 0.04 and summary.requests == 2


def test_failures_are_reported_not_returned_empty(server: FakeServer, tmp_path: Path) -> None:
    server.add("doomed", Reply(status=400, raw="nope"))

    async def job() -> Any:
        client = _cfg(server, tmp_path).build_client()

        async def work(it: str) -> list[str]:
            return [(await _ask(client, it)).text]

        res = await run_items(["ok1", "doomed", "ok2"], work)
        await client.aclose()
        return res

    res = asyncio.run(job())
    assert res.outputs == ["ANSWER: ok1", "ANSWER: ok2"]
    assert [(f.item, f.reason[:8]) for f in res.failures] == [("doomed", "HTTP 400")]


def test_explicit_key_is_sent_but_never_written(server: FakeServer, tmp_path: Path) -> None:
    cfg = _cfg(server, tmp_path, api_key="sk-explicit-999")
    assert "sk-explicit" not in repr(cfg) and "api_key" not in cfg.to_dict()

    async def job() -> None:
        client = cfg.build_client()
        await _ask(client, "k")
        await client.aclose()

    asyncio.run(job())
    assert server.log[0].headers["Authorization"] == "Bearer sk-explicit-999"


def test_cache_is_shared_safely_by_threads(tmp_path: Path) -> None:
    import threading

    from sftforge.llm import Completion, CompletionCache

    cache = CompletionCache(tmp_path / "t.sqlite")
    other = CompletionCache(tmp_path / "t.sqlite")  # a second connection, as another process would

    def write(start: int, c: CompletionCache) -> None:
        for i in range(start, start + 50):
            c.put(f"k{i}", Completion(text=f"v{i}"))

    threads = [
        threading.Thread(target=write, args=(k * 50, cache if k % 2 else other)) for k in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 200
    assert [other.get(f"k{i}").text for i in (0, 199)] == ["v0", "v199"]  # type: ignore[union-attr]
    assert cache.get("missing") is None
    cache.close()
    other.close()


def test_run_items_with_a_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    from sftforge import progress

    async def work(x: int) -> list[int]:
        return [x * 2]

    progress.configure(mode="line")  # what the CLI picks when stderr is not a terminal
    try:
        res = asyncio.run(run_items([1, 2, 3], work, progress=True, label="double"))
    finally:
        progress.configure(mode="off")
    assert res.outputs == [2, 4, 6]
    assert re.fullmatch(
        r"double: 3 items in \d+\.\d s \([\d.,]+ items/s\)\n", capsys.readouterr().err
    )
