"""Read documents for Q&A generation: Markdown, text, HTML, PDF (pypdf) and DOCX (python-docx).

Every format is turned into Markdown-like text where headings are ``#`` lines, so one chunker
handles all of them. HTML keeps h1–h6 as headings and drops scripts, styles and navigation
chrome it can recognise (``nav``, ``header``, ``footer``); DOCX maps "Heading N"/"Title" styles
to headings and keeps tables as ``a | b`` rows in document order; PDF has no reliable headings,
so its pages are chunked by length. JSONL files hold one document per line (``text``, optional
``id`` and ``meta``). Text, Markdown and HTML files may be in any encoding (detected: BOMs,
UTF-16, GBK/GB18030...). Documents get ``meta["source"]`` (the path) and ``meta["title"]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from ..errors import InputError, MissingDependency
from ..sample import Document
from .io import read_jsonl

__all__ = ["DOC_SUFFIXES", "SkippedDocument", "html_to_text", "load_documents", "parse_file"]

DOC_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx", ".jsonl")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


class _HTMLText(HTMLParser):
    _SKIP = frozenset(
        {"script", "style", "noscript", "head", "nav", "header", "footer", "template"}
    )
    _BLOCK = frozenset(
        {
            "p",
            "div",
            "section",
            "article",
            "br",
            "tr",
            "ul",
            "ol",
            "table",
            "blockquote",
            "pre",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in self._SKIP:
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.out.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in ("td", "th"):
            self.out.append(" | ")
        elif tag in self._BLOCK:
            self.out.append("\n\n" if tag != "br" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif re.fullmatch(r"h[1-6]", tag) or tag in self._BLOCK:
            self.out.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if not self._skip:
            self.out.append(re.sub(r"\s+", " ", data))


def _tidy(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> tuple[str, str]:
    """``(text with # headings, <title>)``."""
    p = _HTMLText()
    p.feed(html)
    p.close()
    return _tidy("".join(p.out)), p.title.strip()


def _pdf_text(path: Path) -> str:
    try:
        from pypdf import PdfReader
    except ImportError as exc:
        raise MissingDependency("pypdf", "docs", "reading PDF files") from exc
    import logging

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damage is reported once, by us
    reader = PdfReader(str(path))
    return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)


def _docx_text(path: Path) -> str:
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph
    except ImportError as exc:
        raise MissingDependency("python-docx", "docs", "reading DOCX files") from exc
    d = docx.Document(str(path))
    out: list[str] = []
    for el in d.element.body.iterchildren():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para = Paragraph(el, d)
            text = para.text.strip()
            style = (para.style.name if para.style is not None else "") or ""
            m = re.match(r"Heading (\d)", style)
            if not text:
                continue
            if m or style == "Title":
                out.append("#" * (int(m.group(1)) if m else 1) + " " + text)
            elif "List" in style:
                out.append("- " + text)
            else:
                out.append(text)
        elif tag == "tbl":
            table = Table(el, d)
            out.append("\n".join(" | ".join(c.text.strip() for c in r.cells) for r in table.rows))
    return "\n\n".join(out)


def _read_text(path: Path) -> str:
    """A text file in whatever encoding it has (BOMs, UTF-16, GBK/GB18030... are detected)."""
    from ..io.encoding import detect_encoding

    data = path.read_bytes()
    enc, bom = detect_encoding(data[:65536])
    return data[bom:].decode(enc, errors="replace")


def parse_file(path: str | Path) -> list[Document]:
    """The documents in one file (one, except for JSONL)."""
    p = Path(path)
    suffix = p.suffix.lower()
    title = ""
    try:
        if suffix == ".jsonl":
            docs = []
            for n, obj in read_jsonl(p):
                if not isinstance(obj.get("text"), str):
                    raise InputError("a document line needs a 'text' string", file=str(p), line=n)
                doc = Document.from_dict(obj)
                doc.meta.setdefault("source", f"{p}:{n}")
                docs.append(doc)
            return docs
        if suffix in (".html", ".htm"):
            text, title = html_to_text(_read_text(p))
        elif suffix in (".pdf", ".docx"):
            text = _binary_text(p, suffix)
        elif suffix in (".md", ".markdown", ".txt"):
            text = _read_text(p)
        else:
            raise InputError(
                f"cannot read '{suffix}' documents",
                file=str(p),
                hint=f"use {', '.join(DOC_SUFFIXES)}",
            )
    except OSError as exc:
        raise InputError(f"cannot read the document: {exc.strerror}", file=str(p)) from exc
    if not title:
        m = _HEADING.search(text)
        title = m.group(1) if m else p.stem
    return [Document(text=text, meta={"source": str(p), "title": title})] if text.strip() else []


def _binary_text(p: Path, suffix: str) -> str:
    """PDF/DOCX text; a damaged file (pypdf's ``PdfStreamError``, a bad zip...) is one
    ``InputError`` naming it, never a traceback."""
    try:
        return _pdf_text(p) if suffix == ".pdf" else _docx_text(p)
    except (MissingDependency, OSError):
        raise
    except Exception as exc:  # the parsers raise many kinds for damaged files
        kind = "PDF" if suffix == ".pdf" else "DOCX"
        raise InputError(
            f"cannot read the {kind} document ({type(exc).__name__}: {exc}).",
            file=str(p),
            hint=f"the file is damaged or not a {kind}: re-export it, or remove it from the folder",
        ) from None


@dataclass(slots=True)
class SkippedDocument:
    """A file of a document folder that was left out, and why (for the rejects)."""

    path: str
    reason: str

    def to_dict(self, op: str) -> dict[str, str]:
        return {"op": op, "reason": self.reason, "document": self.path}


def load_documents(
    path: str | Path,
    *,
    follow_symlinks: bool = False,
    skipped: list[SkippedDocument] | None = None,
) -> list[Document]:
    """Documents from a file, or from every readable file under a folder (sorted by path).

    In a folder, a symlink that leads outside it (``passwd.txt -> /etc/passwd``) is never read
    unless ``follow_symlinks``: such a file would be sent to an LLM. When ``skipped`` is given,
    such files and damaged documents are listed there with the reason and the rest are read;
    without it the first one raises ``InputError``.
    """
    p = Path(path)
    if p.is_dir():
        root = p.resolve()
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in DOC_SUFFIXES)
        docs: list[Document] = []
        for f in files:
            try:
                if not follow_symlinks and not f.resolve().is_relative_to(root):
                    raise InputError(
                        f"a symlink to {f.resolve()}, outside the folder {p}: not read.",
                        file=str(f),
                        hint="copy the file into the folder, or pass --follow-symlinks "
                        "(recipe: follow_symlinks: true) if it is meant to be read",
                    )
                docs.extend(parse_file(f))
            except InputError as exc:
                if skipped is None:
                    raise
                skipped.append(SkippedDocument(str(f), str(exc)))
        return docs
    if not p.exists():
        raise InputError("no such file or folder", file=str(p))
    return parse_file(p)
