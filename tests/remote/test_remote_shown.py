"""How URLs are shown: passwords and secret query values masked, everything else as written."""

from __future__ import annotations

import pytest

from sftforge.io.remote import is_url, scrub, shown


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket/a/b.jsonl", "s3://bucket/a/b.jsonl"),
        ("ftp://alice:pw@host:21/x.csv", "ftp://alice:***@host:21/x.csv"),
        ("ftp://alice@host/x.csv", "ftp://alice@host/x.csv"),
        ("https://u:p%40ss@h/x?a=1", "https://u:***@h/x?a=1"),
        (
            "https://h/x.jsonl?X-Amz-Credential=AK%2F1&X-Amz-Signature=abc&part=2",
            "https://h/x.jsonl?X-Amz-Credential=***&X-Amz-Signature=***&part=2",
        ),
        ("https://h/x?token=t0k&sig=s1g", "https://h/x?token=***&sig=***"),
        ("data/local.jsonl", "data/local.jsonl"),
    ],
)
def test_shown(url: str, expected: str) -> None:
    assert shown(url) == expected


def test_scrub_masks_passwords_in_free_text() -> None:
    text = "failed: ftp://bob:hunter22@10.0.0.1/x and http://a:b@c/d"
    assert scrub(text) == "failed: ftp://bob:***@10.0.0.1/x and http://a:***@c/d"


@pytest.mark.parametrize(
    ("path", "remote"),
    [
        ("s3://b/k", True),
        ("HTTPS://h/x", True),
        ("ftp://h/x", True),
        ("hf://datasets/a/b", False),
        ("file.jsonl", False),
        ("-", False),
    ],
)
def test_is_url(path: str, remote: bool) -> None:
    assert is_url(path) is remote
