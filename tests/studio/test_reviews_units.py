"""The review workflow's pure parts: agreement figures, seeded sampling, assignment, policy."""

from __future__ import annotations

import pytest

from sftforge.sample import Message, Sample
from sftforge.studio.errors import ApiError
from sftforge.studio.review_agreement import agreement
from sftforge.studio.review_policy import Resolved, check_policy, keep_suggestion, resolve
from sftforge.studio.review_select import assign, sample_ids


def test_agreement_matches_a_hand_computed_example() -> None:
    # ten items; first reviewer: 6 accept, 3 reject, 1 flag; second the same totals, but they
    # disagree on two items. po = 8/10; pe = (6*6 + 3*3 + 1*1) / 100 = 0.46;
    # kappa = (0.8 - 0.46) / (1 - 0.46) = 0.34 / 0.54 = 0.629630
    first = ["accepted"] * 6 + ["rejected"] * 3 + ["flagged"]
    second = ["accepted"] * 5 + ["rejected"] * 3 + ["accepted", "flagged"]
    got = agreement(list(zip(first, second, strict=True)))
    assert (got.items, got.agreed) == (10, 8)
    assert got.percent == 80.0
    assert got.expected == pytest.approx(0.46)
    assert got.kappa == pytest.approx(0.34 / 0.54, abs=1e-6)
    assert round(got.kappa or 0, 4) == 0.6296


def test_agreement_edge_cases() -> None:
    assert agreement([]).to_dict() == {
        "items": 0,
        "agreed": 0,
        "percent": None,
        "kappa": None,
        "expected": None,
    }
    # both gave one label to everything: chance agreement is 1, kappa undefined (not 1, not 0)
    same = agreement([("accepted", "accepted")] * 4)
    assert same.percent == 100.0 and same.kappa is None
    # always opposite: kappa -1
    assert agreement([("accepted", "rejected"), ("rejected", "accepted")]).kappa == -1.0


def test_sample_ids_is_seeded_ordered_and_sized() -> None:
    ids = [f"r{i}" for i in range(200)]
    five = sample_ids(ids, 5, seed=7)
    assert len(five) == 10
    assert five == sample_ids(ids, 5, seed=7)  # same seed, same queue
    assert five != sample_ids(ids, 5, seed=8)
    assert five == sorted(five, key=ids.index)  # version order kept
    assert len(set(five)) == 10 and set(five) <= set(ids)
    assert sample_ids(ids[:3], 5, seed=1) and len(sample_ids(ids[:3], 5, seed=1)) == 1
    assert sample_ids(ids, 100, seed=1) == ids
    assert sample_ids([], 5, seed=1) == []
    with pytest.raises(ApiError) as err:
        sample_ids(ids, 0, seed=1)
    assert err.value.field == "percent" and err.value.status == 422


def test_assign_rotates_and_double_review_uses_two_people() -> None:
    assert assign(4, ["ann", "bo"], 1) == [["ann"], ["bo"], ["ann"], ["bo"]]
    pairs = assign(6, ["ann", "bo", "cy"], 2)
    assert all(len(set(p)) == 2 for p in pairs)
    load = {name: sum(name in p for p in pairs) for name in ("ann", "bo", "cy")}
    assert load == {"ann": 4, "bo": 4, "cy": 4}
    with pytest.raises(ApiError) as err:
        assign(3, ["ann", " ann "], 2)
    assert err.value.field == "reviewers"
    with pytest.raises(ApiError):
        assign(3, ["ann", "bo", "cy"], 3)


def _llm_row(answer: str = "Paris.") -> Sample:
    return Sample(
        messages=[Message("user", "Capital of France?"), Message("assistant", answer)],
        id="q1",
        meta={"answer_from": "llm", "llm": {"model": "gpt-4"}},
    )


def test_keep_suggestion_stores_the_model_answer_once() -> None:
    before = _llm_row()
    edited = _llm_row("Paris is the capital of France.")
    kept = keep_suggestion(before, edited)
    assert kept.meta["suggestion"] == {
        "messages": [
            {"role": "user", "content": "Capital of France?"},
            {"role": "assistant", "content": "Paris."},
        ],
        "agent": "gpt-4",
    }
    # a second edit keeps the first suggestion, not the first human answer
    again = keep_suggestion(kept, _llm_row("It is Paris."))
    assert again.meta["suggestion"]["messages"][1]["content"] == "Paris."
    # an unchanged conversation (a status-only edit) stores nothing
    assert "suggestion" not in keep_suggestion(before, _llm_row()).meta
    # a row no LLM answered has no suggestion
    human = Sample(messages=[Message("user", "hi"), Message("assistant", "hello")], id="h")
    changed = Sample(messages=[Message("user", "hi"), Message("assistant", "hey")], id="h")
    assert "suggestion" not in keep_suggestion(human, changed).meta


def test_resolve_applies_each_policy() -> None:
    untouched = _llm_row()
    edited = keep_suggestion(untouched, _llm_row("Paris is the capital."))

    def answer(r: Resolved) -> str | None:
        s = r.sample
        return None if s is None else s.messages[-1].content

    # untouched LLM row: the suggestion everywhere, except human_only leaves it out
    assert answer(resolve(untouched, "human_first")) == "Paris."
    assert answer(resolve(untouched, "suggestion_first")) == "Paris."
    out = resolve(untouched, "human_only")
    assert out.sample is None and out.reason and "human_only" in out.reason
    # accepted / verified unchanged: the human answer is the suggestion
    assert answer(resolve(untouched, "human_only", status="accepted")) == "Paris."
    assert answer(resolve(untouched, "human_only", human_verified=True)) == "Paris."
    # edited: human_first and human_only take the edit, suggestion_first the model's answer
    got = resolve(edited, "human_first")
    assert answer(got) == "Paris is the capital." and got.source == "human"
    assert got.sample is not None and "suggestion" not in got.sample.meta
    assert answer(resolve(edited, "human_only")) == "Paris is the capital."
    sug = resolve(edited, "suggestion_first")
    assert answer(sug) == "Paris." and sug.source == "suggestion"
    assert sug.sample is not None and "suggestion" not in sug.sample.meta
    assert sug.sample.id == "q1"
    # lineage model alone marks a row as LLM-answered
    plain = Sample(messages=[Message("user", "a"), Message("assistant", "b")], id="p")
    assert resolve(plain, "human_only").sample is plain
    assert resolve(plain, "human_only", model="qwen").sample is None


def test_check_policy_names_the_valid_ones() -> None:
    assert check_policy("human_only") == "human_only"
    with pytest.raises(ApiError) as err:
        check_policy("model_first")
    assert err.value.hint and "human_first" in err.value.hint and err.value.field == "policy"
