from __future__ import annotations

from pathlib import Path

import pytest
from fakeserver import FakeServer, Reply

from sftforge.generate import build_generator, generate
from sftforge.llm import LLMConfig
from sftforge.sample import Message, Sample


def _s(*turns: tuple[str, str], **meta: object) -> Sample:
    return Sample(messages=[Message(r, c) for r, c in turns], meta=dict(meta))  # type: ignore[arg-type]


def test_respond_answers_only_what_is_missing(server: FakeServer, llm: LLMConfig) -> None:
    items = [
        _s(("user", "hello")),
        _s(("user", "done"), ("assistant", "already answered")),
        _s(("user", "REASON please"), ("assistant", "  ")),
    ]
    res = generate(build_generator("respond"), items, llm)
    assert [s.messages[-1].content for s in res.samples] == [
        "ANSWER: hello",
        "already answered",
        "ANSWER: REASON please",
    ]
    assert res.samples[2].messages[-1].reasoning == "thought"
    assert len(server.log) == 2 and res.failed == []
    m = res.samples[0].meta
    assert (m["answer_from"], m["human_verified"], m["generator"]) == ("llm", False, "respond")
    assert m["llm"]["prompt"] == [{"role": "user", "content": "hello"}]
    assert m["llm"]["response"] == "ANSWER: hello" and m["llm"]["model"] == "fake"
    assert "answer_from" not in res.samples[1].meta  # untouched
    assert res.samples[0].id == items[0].id


def test_respond_rewrites_low_scores_and_keeps_the_old_answer(
    server: FakeServer, llm: LLMConfig
) -> None:
    items = [
        _s(("user", "q1"), ("assistant", "weak"), stats={"judge_overall": 3}),
        _s(("user", "q2"), ("assistant", "fine"), stats={"judge_overall": 8}),
    ]
    gen = build_generator("respond", {"mode": "low_score", "threshold": 5, "system": "default"})
    res = generate(gen, items, llm)
    first = res.samples[0]
    assert first.messages[-1].content.startswith("ANSWER: q1")
    assert first.meta["previous_answer"] == "weak" and "judge_overall" not in first.meta["stats"]
    assert server.log[0].body["messages"][0]["role"] == "system"
    assert res.samples[1].messages[-1].content == "fine" and len(server.log) == 1


def test_respond_n_candidates_are_distinct_calls(server: FakeServer, llm: LLMConfig) -> None:
    res = generate(build_generator("respond", {"n": 3}), [_s(("user", "pick"))], llm)
    assert [s.id for s in res.samples] == [f"{res.samples[0].id[:-3]}-c{k}" for k in range(3)]
    assert len(server.log) == 3


def test_failures_go_to_the_failed_list_not_empty_rows(server: FakeServer, llm: LLMConfig) -> None:
    server.add("doomed", Reply(status=400, raw="no"))
    res = generate(build_generator("respond"), [_s(("user", "ok")), _s(("user", "doomed"))], llm)
    assert [s.messages[-1].content for s in res.samples] == ["ANSWER: ok"]
    assert len(res.failed) == 1
    rec = res.failed[0]
    assert (rec["task"], rec["input"]["messages"][0]["content"]) == ("respond", "doomed")
    assert rec["reason"].startswith("HTTP 400") and rec["llm"]["base_url"] == llm.base_url


def test_judge_scores_become_stats(server: FakeServer, llm: LLMConfig) -> None:
    items = [
        _s(("user", "q"), ("assistant", "a fine answer")),
        _s(("user", "q"), ("assistant", "BAD answer")),
    ]
    res = generate(build_generator("judge"), items, llm)
    stats = [{k: v for k, v in s.meta["stats"].items()} for s in res.samples]
    assert stats == [
        {"judge_harmlessness": 9, "judge_honesty": 8, "judge_helpfulness": 8, "judge_overall": 8},
        {"judge_harmlessness": 9, "judge_honesty": 2, "judge_helpfulness": 2, "judge_overall": 2},
    ]
    assert res.samples[0].meta["judge"]["rationale"] == "ok"
    assert res.samples[0].messages == items[0].messages


def test_judge_out_of_range_score_is_sent_back_then_fixed(
    server: FakeServer, llm: LLMConfig
) -> None:
    bad = '{"harmlessness": 9, "honesty": 12, "helpfulness": 5, "overall": 5, "rationale": "x"}'
    good = "{'harmlessness': 9, 'honesty': 5, 'helpfulness': 5, 'overall': 5, 'rationale': 'x',}"
    server.add("strange", Reply(bad), Reply(good))
    res = generate(
        build_generator("judge", {"scale": 10}), [_s(("user", "strange"), ("assistant", "a"))], llm
    )
    assert res.samples[0].meta["stats"]["judge_honesty"] == 5
    assert "above the maximum 10" in server.log[1].body["messages"][-1]["content"]


def test_judge_chinese_prompt_for_chinese_samples(server: FakeServer, llm: LLMConfig) -> None:
    generate(
        build_generator("judge"),
        [_s(("user", "你好，请介绍一下长城"), ("assistant", "长城很长"))],
        llm,
    )
    assert "分别打分" in server.log[0].body["messages"][-1]["content"]


def test_judge_pair_builds_chosen_and_rejected(server: FakeServer, llm: LLMConfig) -> None:
    items = [
        _s(("user", "which?"), ("assistant", "meh")),
        _s(("user", "which?"), ("assistant", "GOOD one")),
        _s(("user", "alone"), ("assistant", "only answer")),
        _s(("user", "tie"), ("assistant", "BIASED x")),
        _s(("user", "tie"), ("assistant", "BIASED y")),
    ]
    res = generate(build_generator("judge_pair"), items, llm)
    assert len(res.samples) == 1
    pair = res.samples[0]
    assert pair.messages[-1].content == "GOOD one" and pair.rejected is not None
    assert pair.rejected.content == "meh"
    assert sorted(d["reason"] for d in res.dropped) == [
        "fewer than two distinct answers to compare",
        "the judge preferred no answer (all ties)",
        "the judge preferred no answer (all ties)",
    ]
    assert pair.meta["group_ids"] == [items[0].id, items[1].id]
    assert len(server.log) == 4  # both orders for each of the two comparable prompts


@pytest.mark.parametrize(
    ("opts", "msg"), [({"mode": "x"}, "respond mode"), ({"bogus": 1}, "no option 'bogus'")]
)
def test_bad_options_are_recipe_errors(opts: dict[str, object], msg: str) -> None:
    from sftforge.errors import RecipeError

    with pytest.raises(RecipeError, match=msg):
        build_generator("respond", opts)


def test_prompts_override_file(server: FakeServer, llm: LLMConfig, tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(
        "en:\n  judge.user: 'Rate the assistant''s final answer {{conversation}} scale {{scale}}'\n",
        encoding="utf-8",
    )
    generate(
        build_generator("judge", {"prompts": str(f), "lang": "en"}),
        [_s(("user", "q"), ("assistant", "a"))],
        llm,
    )
    assert (
        server.log[0].body["messages"][-1]["content"]
        == "Rate the assistant's final answer [user]\nq\n\n[assistant]\na scale 10"
    )


def test_respond_sends_tool_turns_in_the_wire_format(server: FakeServer, llm: LLMConfig) -> None:
    from sftforge.sample import ToolCall

    tools = [{"name": "weather", "parameters": {"type": "object"}}]
    item = Sample(
        messages=[
            Message("user", "北京天气？"),
            Message("assistant", "", tool_calls=[ToolCall("weather", {"city": "北京"}, id="c1")]),
            Message("tool", '{"t": 3}', tool_call_id="c1", name="weather"),
        ],
        tools=tools,
    )
    res = generate(build_generator("respond"), [item], llm)
    body = server.log[0].body
    assert body["messages"][1]["tool_calls"] == [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city":"北京"}'},
        }
    ]
    assert body["messages"][2] == {
        "role": "tool",
        "content": '{"t": 3}',
        "tool_call_id": "c1",
        "name": "weather",
    }
    assert body["tools"] == [{"type": "function", "function": tools[0]}]
    assert res.samples[0].messages[-1].content == 'ANSWER: {"t": 3}'


def test_judge_sees_tool_calls(server: FakeServer, llm: LLMConfig) -> None:
    from sftforge.sample import ToolCall

    item = Sample(
        messages=[
            Message("user", "q"),
            Message("assistant", "", tool_calls=[ToolCall("f", {"x": 1})]),
        ]
    )
    generate(build_generator("judge", {"lang": "en"}), [item], llm)
    assert '[assistant]\n(calls f({"x":1}))' in server.log[0].body["messages"][-1]["content"]
