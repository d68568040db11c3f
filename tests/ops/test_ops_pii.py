"""PII detection tables (with checksum and Luhn validation), redaction and the pii filter."""

from __future__ import annotations

import pytest
from ops_helpers import chat, map_text

import sftforge.ops.pii  # noqa: F401  (registers the operators)
from sftforge.errors import RecipeError
from sftforge.ops.base import build_op
from sftforge.ops.pii import cn_id_valid, find_pii, luhn_valid
from sftforge.sample import Message

VALID_ID = "11010519491231002X"  # the GB 11643 standard's own example number
VALID_ID_2 = "440524188001010014"
INVALID_ID = "110105194912310021"  # same digits, wrong check digit

ID_CASES = [(VALID_ID, True), (VALID_ID.lower(), True), (VALID_ID_2, True), (INVALID_ID, False),
            ("11010519491231002", False), ("abcdefghijklmnopqr", False)]  # fmt: skip


@pytest.mark.parametrize(("number", "valid"), ID_CASES)
def test_cn_id_checksum(number: str, valid: bool) -> None:
    assert cn_id_valid(number) is valid


LUHN_CASES = [("4111111111111111", True), ("4111111111111112", False), ("6222021234567890128", True),
              ("79927398713", True), ("79927398710", False)]  # fmt: skip


@pytest.mark.parametrize(("digits", "valid"), LUHN_CASES)
def test_luhn(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


FIND_CASES = [
    ("邮箱abc.d+e@mail.qq.com联系", [("email", "abc.d+e@mail.qq.com")]),
    ("Mail me: John.Smith@example.co.uk.", [("email", "John.Smith@example.co.uk")]),
    ("电话13812345678，谢谢", [("phone", "13812345678")]),
    ("手机：+86 138-1234-5678", [("phone", "+86 138-1234-5678")]),
    ("手机：+8613812345678", [("phone", "+8613812345678")]),
    ("call 138 1234 5678 now", [("phone", "138 1234 5678")]),
    ("座机010-12345678", [("phone", "010-12345678")]),
    ("Call +44 20 7946 0958 today", [("phone", "+44 20 7946 0958")]),
    ("US (415) 555-2671", [("phone", "(415) 555-2671")]),
    ("12812345678 is not a mobile prefix", []),
    (f"身份证号{VALID_ID}。", [("cn_id", VALID_ID)]),
    (f"身份证号{INVALID_ID}。", []),
    ("卡号6222 0212 3456 7890 128", [("bank_card", "6222 0212 3456 7890 128")]),
    ("card 4111-1111-1111-1111 ok", [("bank_card", "4111-1111-1111-1111")]),
    ("card 4111-1111-1111-1112 ok", []),
    ("timestamp 1700000000000", []),
    ("服务器192.168.1.10上", [("ip", "192.168.1.10")]),
    ("not an ip 999.1.1.1 or 1.2.3", []),
    ("v6 2001:db8:85a3::8a2e:370:7334 here", [("ip", "2001:db8:85a3::8a2e:370:7334")]),
    ("code std::vector<int> x[::2] at 12:30:45", []),
    ("clone https://bob:s3cr3t@git.example.com/r.git", [("url_credentials", "bob:s3cr3t")]),
    ("key sk-proj-abcdefghijklmnopqrstuvwxyz12", [("secret", "sk-proj-abcdefghijklmnopqrstuvwxyz12")]),
    ("aws AKIAIOSFODNN7EXAMPLE", [("secret", "AKIAIOSFODNN7EXAMPLE")]),
    ("gh ghp_" + "A1" * 18, [("secret", "ghp_" + "A1" * 18)]),
    ('config api_key="abc123def456"', [("secret", "abc123def456")]),
    ("密码password: hunter22", [("secret", "hunter22")]),
    ("token = tokenizer(text)", []),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
     [("private_key", "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----")]),
    ("没有个人信息的普通句子。", []),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), FIND_CASES)
def test_find_pii(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(f.kind, f.text) for f in find_pii(text)] == expected


REDACT_CASES = [
    ("我的电话13812345678，邮箱a@b.cn", {}, "我的电话[PHONE]，邮箱[EMAIL]"),
    (f"ID {VALID_ID} / {INVALID_ID}", {}, f"ID [ID_NUMBER] / {INVALID_ID}"),
    ("https://u:p4ss@h.com/x", {}, "https://[CREDENTIALS]@h.com/x"),
    ("a@b.cn 13812345678", {"kinds": ["email"]}, "[EMAIL] 13812345678"),
    ("a@b.cn", {"replacement": "<{kind}>"}, "<email>"),
    ("a@b.cn 1.2.3.4", {"replacements": {"email": "***"}}, "*** [IP]"),
]


@pytest.mark.parametrize(("text", "options", "expected"), REDACT_CASES)
def test_redact_pii(text: str, options: dict, expected: str) -> None:
    assert map_text("redact_pii", text, **options) == expected


def test_redact_pii_counts_per_kind_and_targets() -> None:
    s = chat("我是a@b.cn，电话13812345678", "回复c@d.com", system="sys e@f.org")
    s.rejected = Message("assistant", "rejected g@h.io")
    op = build_op("redact_pii", {"targets": ["user", "assistant"]})
    op.apply([s])
    assert [m.content for m in s.messages] == [
        "sys e@f.org",
        "我是[EMAIL]，电话[PHONE]",
        "回复[EMAIL]",
    ]
    assert s.rejected.content == "rejected [EMAIL]"
    assert dict(op.counters.extra) == {"pii.email": 3, "pii.phone": 1}


def test_pii_filter_drops_and_counts() -> None:
    op = build_op("pii_filter", {"kinds": ["email", "cn_id"]})
    kept, rejects = op.apply(
        [chat("q", "mail a@b.cn"), chat("q", "call 13812345678"), chat("q", "hi")]
    )
    assert len(kept) == 2
    assert (rejects[0].reason, rejects[0].value) == ("pii: email", {"email": 1})
    assert kept[0].meta["stats"]["pii_filter"] == {"phone": 1}
    assert dict(op.counters.extra) == {"pii.email": 1}


def test_pii_unknown_kind_lists_valid() -> None:
    with pytest.raises(RecipeError, match="valid: private_key"):
        build_op("redact_pii", {"kinds": ["passport"]})


def test_redact_pii_covers_reasoning_unless_off() -> None:
    s = chat("q", "ok")
    s.messages[-1].reasoning = "user mail is a@b.cn"
    build_op("redact_pii", {"reasoning": False}).apply([s])
    assert s.messages[-1].reasoning == "user mail is a@b.cn"
    build_op("redact_pii").apply([s])
    assert s.messages[-1].reasoning == "user mail is [EMAIL]"
