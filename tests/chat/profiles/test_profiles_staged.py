"""The staged (plan / tokenize in a thread / build) encoding: same rows however it is cut up.

The llamafactory profile is checked against its straightforward reference (lf_reference.py) on
generated conversations over every template and option, and its pieces (cached special ids,
the no-truncation shortcut, the fast row builder) one by one.
"""

from __future__ import annotations

import random
from copy import deepcopy
from typing import Any

import pytest
from lf_reference import as_pairs, reference_rows

from sftforge.chat.profiles import Encoded, Rejected, get_profile
from sftforge.chat.profiles.base import TextEncoder, encode_texts
from sftforge.chat.profiles.llamafactory import LlamaFactoryProfile, _cat, infer_seqlen
from sftforge.chat.profiles.llamafactory_templates import (
    EOS,
    LF_TEMPLATES,
    _register,
)
from sftforge.sample import Media, Message, Sample, ToolCall

WORDS = [
    "hello", "世界", "{{content}}", "{{idx}}", "<think>", "</think>", "\n", " ", "<|im_end|>",
    "weather " * 6, "ok", "<tool_call>", "</tool_call>", "{", "}", "{{", "4", "<s>", "Human",
]  # fmt: skip
TOOL = {
    "name": "weather",
    "description": "w",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def generated(n: int, seed: int = 7) -> list[Sample]:
    """Conversations of every shape the profile meets, rejects included, deterministic."""
    rnd = random.Random(seed)

    def text() -> str:
        return "".join(rnd.choice(WORDS) for _ in range(rnd.randint(0, 8)))

    out = []
    for _ in range(n):
        msgs = []
        if rnd.random() < 0.3:
            msgs.append(Message("system", text()))
        for _ in range(rnd.randint(0, 3)):
            msgs.append(Message("user", text()))
            r = rnd.random()
            if r < 0.2:
                calls = [ToolCall("weather", {"city": text()})] * rnd.randint(1, 2)
                msgs.append(Message("assistant", text(), tool_calls=calls))
                msgs += [Message("tool", text()) for _ in range(rnd.randint(1, 2))]
                msgs.append(Message("assistant", text(), reasoning=text() or None))
            elif r < 0.4:
                msgs.append(Message("assistant", text(), reasoning=text()))
            else:
                msgs.append(Message("assistant", text()))
        if msgs and rnd.random() < 0.1:
            msgs.pop()
        if rnd.random() < 0.05:
            msgs.insert(rnd.randint(0, len(msgs)), Message("user", "twice"))
        media = [Media("image", "a.png")] if rnd.random() < 0.03 else None
        tools = [TOOL] if rnd.random() < 0.3 else None
        out.append(Sample(msgs, tools=tools, media=media))
    return out


SAMPLES = generated(160)


@pytest.fixture(scope="module")
def glm_tok(tok: Any) -> Any:
    t = deepcopy(tok)
    glm = ["[gMASK]", "sop", "<|user|>", "<|assistant|>", "<|system|>", "<|observation|>"]
    t.add_special_tokens({"additional_special_tokens": glm})
    return t


CASES: list[tuple[str | None, int, dict[str, Any]]] = [
    (tpl, cutoff, {})
    for tpl in [None, *sorted(LF_TEMPLATES)]
    for cutoff in (2048, 24, 7)
] + [
    (tpl, cutoff, opts)
    for tpl in ("qwen", "default", "chatglm3", "llama2", "qwen3")
    for cutoff in (2048, 30)
    for opts in ({"mask_history": True}, {"train_on_prompt": True})
    if not (tpl == "chatglm3" and "train_on_prompt" in opts)
] + [
    ("qwen3", 2048, {"enable_thinking": False}),
    ("qwen3", 40, {"mask_history": True, "preserve_thinking": True}),
    ("qwen3", 2048, {"enable_thinking": False, "mask_history": True}),
    ("qwen", 2048, {"default_system": "Be brief."}),
    ("qwen", 0, {}),
]  # fmt: skip


@pytest.mark.parametrize(("template", "cutoff", "opts"), CASES)
def test_profile_equals_the_reference_implementation(
    tok: Any, glm_tok: Any, template: str | None, cutoff: int, opts: dict[str, Any]
) -> None:
    t = glm_tok if template == "chatglm3" else tok
    prof = get_profile("llamafactory", t, template=template, max_length=cutoff, **opts)
    assert isinstance(prof, LlamaFactoryProfile)
    expected = reference_rows(
        t,
        prof.tpl,
        SAMPLES,
        cutoff_len=cutoff,
        train_on_prompt=bool(opts.get("train_on_prompt")),
        mask_history=bool(opts.get("mask_history")),
    )
    assert as_pairs(prof.encode_batch(SAMPLES)) == expected


def test_sentencepiece_tokenizer_equals_the_reference(sp_tok: Any) -> None:
    prof = get_profile("llamafactory", sp_tok, template="llama2", max_length=30)
    assert isinstance(prof, LlamaFactoryProfile)
    expected = reference_rows(sp_tok, prof.tpl, SAMPLES, cutoff_len=30)
    assert as_pairs(prof.encode_batch(SAMPLES)) == expected


@pytest.mark.parametrize(
    ("first", "largest", "threads"), [(1, 1, True), (1, 3, True), (5, 64, True), (2, 7, False)]
)
def test_chunked_and_threaded_rows_are_the_same_in_order(
    tok: Any, first: int, largest: int, threads: bool
) -> None:
    prof = get_profile("llamafactory", tok, template="qwen", max_length=64)
    whole = prof.encode_batch(SAMPLES)
    streamed = list(
        prof.encode_stream(iter(SAMPLES), batch_size=largest, first_chunk=first, threads=threads)
    )
    assert as_pairs(streamed) == as_pairs(whole)
    assert [r.sample_id for r in streamed] == [s.id for s in SAMPLES]  # rejects in place
    assert any(isinstance(r, Rejected) for r in streamed)
    one_by_one = [prof.encode_batch([s])[0] for s in SAMPLES]
    assert as_pairs(one_by_one) == as_pairs(whole)


def test_a_stream_left_early_stops_its_worker(tok: Any) -> None:
    prof = get_profile("llamafactory", tok, template="qwen")
    stream = prof.encode_stream(SAMPLES * 3, batch_size=4, first_chunk=1)
    first = [next(stream) for _ in range(5)]
    stream.close()  # the pending chunks are cancelled, the worker shut down
    assert [r.sample_id for r in first] == [s.id for s in SAMPLES[:5]]


def test_an_error_in_a_chunk_reaches_the_caller(tok: Any) -> None:
    prof = get_profile("llamafactory", tok, template="qwen")
    bad = [SAMPLES[0], "not a sample"]
    with pytest.raises(AttributeError):
        prof.encode_batch(bad)  # type: ignore[arg-type]


def test_cached_special_ids_follow_the_template_s_eos(
    make_tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tok = make_tokenizer(eos="</s>")
    tpl = _register(
        "eos_slots",
        user=["<|im_start|>user\n{{content}}<|im_end|>\n"],
        assistant=["{{content}}", EOS],
        stop_words=["<|im_end|>"],
        replace_eos=True,
    )
    monkeypatch.setitem(LF_TEMPLATES, "eos_slots", tpl)
    prof = get_profile("llamafactory", tok, template="eos_slots")
    assert isinstance(prof, LlamaFactoryProfile)
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    assert prof.eos_id == im_end != tok.eos_token_id
    assert tok.eos_token == "</s>"  # the caller's tokenizer is left alone
    row = prof.encode(Sample([Message("user", "hi"), Message("assistant", "yo")]))
    assert row.input_ids[-1] == im_end and row.labels[-1] == im_end


def test_the_tokenizer_is_copied_only_when_the_template_changes_it(
    tok: Any, make_tokenizer: Any
) -> None:
    same = get_profile("llamafactory", tok, template="qwen")  # EOS is already <|im_end|>
    assert isinstance(same, LlamaFactoryProfile) and same.tok is tok
    other = make_tokenizer(eos="</s>")
    changed = get_profile("llamafactory", other, template="qwen")
    assert isinstance(changed, LlamaFactoryProfile) and changed.tok is not other
    assert changed.eos_id == other.convert_tokens_to_ids("<|im_end|>")
    chatml = get_profile("llamafactory", tok, template="chatml")  # adds <|im_start|> as a stop word
    assert isinstance(chatml, LlamaFactoryProfile) and chatml.tok is not tok


def test_infer_seqlen_keeps_both_when_they_fit() -> None:
    # the fast row builder skips infer_seqlen when source + target <= cutoff
    for cutoff in range(1, 90):
        for s in range(cutoff + 1):
            for t in range(cutoff - s + 1):
                assert infer_seqlen(s, t, cutoff) == (s, t)


@pytest.mark.parametrize("train_on_prompt", [False, True])
def test_fast_rows_equal_supervised(tok: Any, train_on_prompt: bool) -> None:
    rnd = random.Random(3)
    table = [[rnd.randrange(400) for _ in range(rnd.randrange(12))] for _ in range(30)]
    for cutoff in (0, 1, 5, 13, 40, 2048):
        prof = get_profile(
            "llamafactory", tok, template="qwen", max_length=cutoff, train_on_prompt=train_on_prompt
        )
        assert isinstance(prof, LlamaFactoryProfile)
        for _ in range(200):
            msgs = [
                [rnd.randrange(len(table)) for _ in range(rnd.randrange(3))]
                for _ in range(2 * rnd.randint(1, 3))
            ]
            fast = prof._row(table, msgs, "x")
            slow = prof._supervised([list(_cat(table, m)) for m in msgs], "x")
            assert (fast.input_ids, fast.labels, fast.attention_mask) == (
                slow.input_ids,
                slow.labels,
                slow.attention_mask,
            )
            assert not any(fast.input_ids is t or fast.labels is t for t in table)  # fresh lists


def test_encode_texts_equals_encode_per_text(tok: Any, sp_tok: Any) -> None:
    texts = [
        "",
        "hello world",
        "<|im_start|>user\nhi<|im_end|>\n",
        "你好，世界",
        " x",
        "hello world",
    ]
    for t in (tok, sp_tok):
        assert encode_texts(t, texts) == [t.encode(x, add_special_tokens=False) for x in texts]


class _PythonTokenizer:
    """A tokenizer without a Rust backend: encode_texts goes through __call__, in this thread."""

    is_fast = False

    def __call__(self, texts: list[str], **_: Any) -> dict[str, list[list[int]]]:
        return {"input_ids": [[ord(c) for c in t] for t in texts]}


def test_a_python_tokenizer_is_not_threaded() -> None:
    enc = TextEncoder(_PythonTokenizer())
    assert not enc.threaded
    assert enc.ids(enc.run(["ab", ""])) == [[97, 98], []]
    assert encode_texts(_PythonTokenizer(), []) == []


def test_rows_are_encoded_rows(tok: Any) -> None:
    rows = get_profile("llamafactory", tok, template="qwen").encode_batch(SAMPLES)
    kept = [r for r in rows if isinstance(r, Encoded)]
    assert kept and all(r.attention_mask == [1] * len(r.input_ids) for r in kept)


@pytest.mark.parametrize(
    ("name", "template", "opts"),
    [("swift", "qwen", {}), ("swift", "chatml", {"truncation_strategy": "left"}),
     ("xtuner", "qwen_chat", {}), ("xtuner", "default", {})],
)  # fmt: skip
def test_other_staged_profiles_give_the_same_rows_however_chunked(
    tok: Any, name: str, template: str, opts: dict[str, Any]
) -> None:
    prof = get_profile(name, tok, template=template, max_length=40, **opts)
    whole = prof.encode_batch(SAMPLES)
    assert [r.sample_id for r in whole] == [s.id for s in SAMPLES]
    for first, largest, threads in ((1, 3, True), (4, 9, False)):
        streamed = prof.encode_stream(
            SAMPLES, batch_size=largest, first_chunk=first, threads=threads
        )
        assert as_pairs(list(streamed)) == as_pairs(whole)
    assert as_pairs([prof.encode_batch([s])[0] for s in SAMPLES]) == as_pairs(whole)


def test_one_chunk_is_encoded_without_a_thread(tok: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import sftforge.chat.overlap as overlap  # where the worker thread's pool is made

    started: list[int] = []

    class Pool(overlap.ThreadPoolExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            started.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(overlap, "ThreadPoolExecutor", Pool)
    prof = get_profile("llamafactory", tok, template="qwen")
    prof.encode(Sample([Message("user", "hi"), Message("assistant", "yo")]))
    prof.encode_batch(SAMPLES[:10])
    assert not started
    prof.encode_batch(SAMPLES * 3)  # more than one chunk: tokenized in the worker
    assert started == [1]


def test_gc_bulk_hands_back_old_objects_and_restores_the_collector() -> None:
    import gc

    from sftforge._gc import gc_bulk

    before = gc.get_threshold()
    with gc_bulk():
        rows = [[i, i + 1] for i in range(1000)]
        assert gc.get_threshold() != before
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    assert all(gc.is_tracked(r) for r in rows[:3])
    assert not any(id(o) == id(rows[0]) for o in gc.get_objects(generation=0))  # not young
    assert any(o is rows[0] for o in gc.get_objects(generation=2))


def test_a_text_is_tokenized_once_per_stream(tok: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import sftforge.chat.profiles.base as base

    sent: list[str] = []
    real = base.TextEncoder.run

    def spy(self: Any, texts: list[str]) -> Any:
        sent.extend(texts)
        return real(self, texts)

    monkeypatch.setattr(base.TextEncoder, "run", spy)
    samples = [
        Sample([Message("user", f"q{i}"), Message("assistant", "a")], tools=[TOOL])
        for i in range(12)
    ]
    prof = get_profile("llamafactory", tok, template="qwen")
    for threads in (True, False):
        sent.clear()
        rows = list(prof.encode_stream(samples, batch_size=2, first_chunk=1, threads=threads))
        system = [t for t in sent if t.startswith("<|im_start|>system\n")]
        assert len(system) == 1 and "# Tools" in system[0]
        assert sent.count("a<|im_end|>\n") == 1  # in 7 chunks (1, 2, 2, 2, 2, 2, 1)
        assert len(sent) == len(set(sent)) == 1 + 12 + 1
        assert as_pairs(rows) == as_pairs([prof.encode_batch([s])[0] for s in samples])
