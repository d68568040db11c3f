from __future__ import annotations

from pathlib import Path

import pytest
from fakeserver import FakeServer

from sftforge.generate import (
    build_generator,
    chunk_document,
    generate,
    html_to_text,
    load_documents,
    questions_for,
    split_sections,
)
from sftforge.llm import LLMConfig
from sftforge.sample import Document


def _pdf(path: Path, lines: list[str]) -> None:
    """A one-page PDF with Helvetica text, written by hand (no PDF library writes text)."""
    ops = " ".join(f"({t}) Tj 0 -16 Td" for t in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {ops} ET".encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(bytes(out))


def test_split_sections_tracks_heading_paths_and_skips_fences() -> None:
    text = "intro\n# Guide\ng\n## Install\n```\n# not a heading\n```\n## Use\nu\n# Other\no"
    assert split_sections(text) == [
        ("", "intro"),
        ("Guide", "# Guide\ng"),
        ("Guide > Install", "## Install\n```\n# not a heading\n```"),
        ("Guide > Use", "## Use\nu"),
        ("Other", "# Other\no"),
    ]


def test_long_sections_split_with_overlap_and_small_ones_merge() -> None:
    paras = [f"Paragraph {i} " + "word " * 40 for i in range(6)]  # 53 tokens each
    doc = Document(text="# Big\n\n" + "\n\n".join(paras) + "\n\n# Tiny\n\nsmall", id="d1")
    chunks = chunk_document(doc, max_tokens=150, min_tokens=20, overlap=70)
    # two paragraphs fit a window; each window repeats the last paragraph of the one before
    assert [(c.chunk_id, c.heading, c.text[:11]) for c in chunks] == [
        ("d1#0", "Big", "# Big\n\nPara"),
        ("d1#1", "Big", "Paragraph 1"),
        ("d1#2", "Big", "Paragraph 2"),
        ("d1#3", "Big", "Paragraph 3"),
        ("d1#4", "Big", "Paragraph 4"),
    ]
    assert [c.tokens for c in chunks] == [108, 106, 106, 106, 110]
    assert chunks[4].text.endswith("Paragraph 5 " + "word " * 39 + "word\n\n# Tiny\n\nsmall")


def test_cjk_text_without_blank_lines_is_split_at_sentences() -> None:
    doc = Document(text="第一句话很长。" * 60, id="zh")
    chunks = chunk_document(doc, max_tokens=100, min_tokens=10, overlap=0)
    assert len(chunks) == 5 and all(c.text.endswith("。") for c in chunks)
    assert "".join(c.text.replace("\n\n", "") for c in chunks) == doc.text


@pytest.mark.parametrize(("tokens", "expected"), [(10, 1), (150, 1), (300, 2), (760, 5), (5000, 8)])
def test_questions_in_proportion_to_length(tokens: int, expected: int) -> None:
    assert questions_for(tokens) == expected


def test_html_keeps_headings_and_drops_chrome() -> None:
    html = (
        "<html><head><title>T</title><style>x{}</style></head><body><nav>menu</nav>"
        "<h1>Main</h1><p>Hello <b>there</b>.</p><ul><li>one</li><li>two</li></ul>"
        "<table><tr><td>a</td><td>b</td></tr></table><script>evil()</script></body></html>"
    )
    assert html_to_text(html) == ("# Main\n\nHello there.\n\n- one\n- two\n\n| a | b", "T")


def test_every_document_format_is_read(tmp_path: Path) -> None:
    docx = pytest.importorskip("docx")
    pytest.importorskip("pypdf")
    (tmp_path / "a.md").write_text("# 标题\n\n正文内容。", encoding="utf-8")
    (tmp_path / "b.txt").write_text("plain text", encoding="utf-8")
    (tmp_path / "c.html").write_text("<h2>Sub</h2><p>web page</p>", encoding="utf-8")
    _pdf(tmp_path / "d.pdf", ["Hello PDF", "second line"])
    d = docx.Document()
    d.add_heading("Word Title", level=1)
    d.add_paragraph("A paragraph.")
    t = d.add_table(rows=1, cols=2)
    t.rows[0].cells[0].text, t.rows[0].cells[1].text = "x", "y"
    d.save(str(tmp_path / "e.docx"))
    (tmp_path / "f.jsonl").write_text('{"id": "j1", "text": "from jsonl"}\n', encoding="utf-8")
    (tmp_path / "skip.bin").write_bytes(b"\0")
    docs = load_documents(tmp_path)
    got = [
        (Path(str(x.meta["source"])).name.split(":")[0], x.meta.get("title"), x.text) for x in docs
    ]
    assert got == [
        ("a.md", "标题", "# 标题\n\n正文内容。"),
        ("b.txt", "b", "plain text"),
        ("c.html", "Sub", "## Sub\n\nweb page"),
        ("d.pdf", "d", "Hello PDF\nsecond line"),
        ("e.docx", "Word Title", "# Word Title\n\nA paragraph.\n\nx | y"),
        ("f.jsonl", None, "from jsonl"),
    ]


def test_doc_qa_links_every_sample_to_its_document_and_chunk(
    server: FakeServer, llm: LLMConfig
) -> None:
    docs = [
        Document(
            text="# Alpha\n\n" + "alpha facts " * 100,
            id="docA",
            meta={"title": "A", "source": "a.md"},
        ),
        Document(text="# Beta\n\nbeta facts", id="docB", meta={"title": "B", "source": "b.md"}),
    ]
    res = generate(build_generator("doc_qa", {"per_tokens": 50}), docs, llm)
    by_chunk: dict[str, int] = {}
    for s in res.samples:
        by_chunk[s.meta["chunk_id"]] = by_chunk.get(s.meta["chunk_id"], 0) + 1
        assert s.meta["doc_id"] in ("docA", "docB") and s.meta["chunk_id"].startswith(
            s.meta["doc_id"]
        )
        assert s.messages[-1].content == f"Answer to {s.messages[0].content}"
        assert s.meta["answer_from"] == "llm" and s.meta["question_from"] == "llm"
    # one question per 50 tokens: docA's chunk has 302 tokens, docB's 5 (at least one)
    # the fake model's last question (of several) is not answerable from the chunk
    assert by_chunk == {"docA#0": 5, "docB#0": 1}
    assert len(res.dropped) == 1 and {d["reason"] for d in res.dropped} == {
        "the chunk does not answer the question"
    }


def test_doc_qa_with_reasoning_splits_the_thinking(server: FakeServer, llm: LLMConfig) -> None:
    doc = Document(text="# T\n\nsome facts here", id="d")
    res = generate(build_generator("doc_qa", {"reasoning": True}), [doc], llm)
    assert [
        (s.messages[-1].reasoning, s.messages[-1].content.startswith("Answer to"))
        for s in res.samples
    ] == [("because the passage says so", True)]


def test_doc_qa_budget_stop_leaves_chunks_unfinished_not_failed(
    server: FakeServer, llm: LLMConfig
) -> None:
    docs = [Document(text=f"# D{i}\n\n" + "facts here. " * 40, id=f"d{i}") for i in range(4)]
    # each call reserves a few hundred estimated tokens and the fake server reports 15 used, so
    # the budget runs out after a few chunks; a chunk cut half-way is unfinished, not failed
    llm.concurrency, llm.max_tokens_budget, llm.params = 1, 400, {"max_tokens": 50}
    res = generate(build_generator("doc_qa", {"per_tokens": 40}), docs, llm)
    assert res.stopped is not None and res.stopped.startswith("token budget of 400 reached")
    done = [s.meta["chunk_id"] for s in res.samples]
    left = [f["input"]["chunk_id"] for f in res.failed]
    assert done and left and sorted(set(done) | set(left)) == [f"d{i}#0" for i in range(4)]
    assert all(
        done.count(c) == 2 for c in done
    )  # finished chunks are whole (3 questions, 1 dropped)
    assert all(f["reason"].startswith("not run: token budget") for f in res.failed)


def test_generate_works_inside_a_running_event_loop(server: FakeServer, llm: LLMConfig) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from sftforge.sample import Message, Sample

    async def handler() -> str:  # e.g. a web request handler calling the library
        res = generate(build_generator("respond"), [Sample(messages=[Message("user", "hi")])], llm)
        return res.samples[0].messages[-1].content

    # on a thread of its own: once Playwright's sync API ran in this process (the studio's
    # browser tests), the main thread keeps an event loop and asyncio.run refuses to start
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, handler()).result() == "ANSWER: hi"


@pytest.mark.parametrize(
    ("encoding", "bom"), [("gbk", b""), ("utf-16", b""), ("utf-8", b"\xef\xbb\xbf")]
)
def test_text_documents_in_other_encodings(tmp_path: Path, encoding: str, bom: bytes) -> None:
    text = "# 安装指南\n\n运行安装程序，然后重启电脑。这一步需要管理员权限。"
    path = tmp_path / "doc.md"
    path.write_bytes(bom + text.encode(encoding))
    [doc] = load_documents(path)
    assert (doc.text, doc.meta["title"]) == (text, "安装指南")
