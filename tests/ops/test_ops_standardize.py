"""Standardisers: tables of recognised and deliberately untouched spellings."""

from __future__ import annotations

import pytest
from ops_helpers import map_text

import sftforge.ops.standardize  # noqa: F401  (registers the operators)
from sftforge.errors import RecipeError
from sftforge.ops.base import build_op

DATE_CASES = [
    ("2024年3月5日", {}, "2024-03-05"),
    ("会议定于2024 年 03 月 05 号举行", {}, "会议定于2024-03-05举行"),
    ("二〇二四年十二月三十一日", {}, "2024-12-31"),
    ("2024/3/5", {}, "2024-03-05"),
    ("2024.03.05", {}, "2024-03-05"),
    ("March 5, 2024", {}, "2024-03-05"),
    ("on Sept. 5th, 2024 we", {}, "on 2024-09-05 we"),
    ("5 March 2024", {}, "2024-03-05"),
    ("the 5th of March, 2024", {}, "the 2024-03-05"),
    ("05/03/2024", {}, "2024-05-03"),
    ("05/03/2024", {"day_first": True}, "2024-03-05"),
    ("13/03/2024", {}, "2024-03-13"),
    ("03/13/2024", {"day_first": True}, "2024-03-13"),
    ("2024年3月5日", {"format": "%d.%m.%Y"}, "05.03.2024"),
    # left alone
    ("2024-02-30", {}, "2024-02-30"),
    ("2024年3月", {}, "2024年3月"),
    ("3月5日", {}, "3月5日"),
    ("March 2024", {}, "March 2024"),
    ("05/03/24", {}, "05/03/24"),
    ("ip 192.168.1.1", {}, "ip 192.168.1.1"),
    ("`2024/3/5`", {}, "`2024/3/5`"),
]


@pytest.mark.parametrize(("text", "options", "expected"), DATE_CASES)
def test_standardize_dates(text: str, options: dict, expected: str) -> None:
    assert map_text("standardize_dates", text, **options) == expected


TIME_CASES = [
    ("3pm", {}, "15:00"),
    ("meet at 3 PM.", {}, "meet at 15:00."),
    ("3:30 p.m. tomorrow", {}, "15:30 tomorrow"),
    ("at 5 p.m. Then", {}, "at 17:00. Then"),
    ("12 am", {}, "00:00"),
    ("12:05 PM", {}, "12:05"),
    ("9:05:30 am", {}, "09:05:30"),
    ("下午3点", {}, "15:00"),
    ("晚上8点半见", {}, "20:30见"),
    ("上午十点一刻", {}, "10:15"),
    ("凌晨12点", {}, "00:00"),
    ("中午1点", {}, "13:00"),
    ("3点30分", {}, "03:30"),
    ("15时30分", {}, "15:30"),
    ("8点整", {}, "08:00"),
    ("下午3点15分20秒", {}, "15:15:20"),
    ("下午3点", {"format": "%I:%M %p"}, "03:00 PM"),
    ("明天 3点30分", {}, "明天 03:30"),
    # left alone
    ("第3点", {}, "第3点"),
    ("3小时", {}, "3小时"),
    ("13 pm", {}, "13 pm"),
    ("5 amps", {}, "5 amps"),
    ("15:30", {}, "15:30"),
]


@pytest.mark.parametrize(("text", "options", "expected"), TIME_CASES)
def test_standardize_times(text: str, options: dict, expected: str) -> None:
    assert map_text("standardize_times", text, **options) == expected


# issue 16 problem 11: a date written right before a time must not run into it, whichever
# standardiser runs first ("2024年3月5日下午3点半" once became "2024-03-0515:30")
DATE_TIME_CASES = [
    ("2024年3月5日下午3点半", "2024-03-05 15:30"),
    ("2024年3月5日 下午3点半", "2024-03-05 15:30"),
    ("2024年3月5日上午10点", "2024-03-05 10:00"),
    ("2024年3月5日晚上8点15分", "2024-03-05 20:15"),
    ("2024年3月5日15时30分", "2024-03-05 15:30"),
    ("2024年3月5日 15时30分", "2024-03-05 15:30"),
    ("2024年3月5日3点半", "2024-03-05 03:30"),
    ("会议在2024年3月5日下午3点半开始", "会议在2024-03-05 15:30开始"),
    ("March 5, 2024 at 3:30 pm", "2024-03-05 at 15:30"),
    ("March 5, 2024, 3pm", "2024-03-05, 15:00"),
    ("5 March 2024 3:30 PM", "2024-03-05 15:30"),
    ("2024/3/5 3:30pm", "2024-03-05 15:30"),
]


def _dates_and_times(text: str, order: tuple[str, str]) -> str:
    for name in order:
        text = map_text(name, text)
    return text


@pytest.mark.parametrize(("text", "expected"), DATE_TIME_CASES)
@pytest.mark.parametrize(
    "order",
    [("standardize_dates", "standardize_times"), ("standardize_times", "standardize_dates")],
)
def test_date_followed_by_time(text: str, expected: str, order: tuple[str, str]) -> None:
    assert _dates_and_times(text, order) == expected


def test_date_alone_keeps_a_following_time_apart() -> None:
    # only the date standardiser: the Chinese time stays as written, but no longer glued on
    assert map_text("standardize_dates", "2024年3月5日3点半") == "2024-03-05 3点半"
    assert map_text("standardize_dates", "2024年3月5日下午3点") == "2024-03-05下午3点"
    # a date whose new form ends in a non-digit needs no space
    fmt = {"format": "%Y年%m月%d日"}
    assert map_text("standardize_dates", "2024年3月5日15时", **fmt) == "2024年03月05日15时"


CURRENCY_CASES = [
    ("¥1,234.50", {}, "CNY 1234.50"),
    ("价格1234.5元", {}, "价格CNY 1234.50"),
    ("$3", {}, "USD 3.00"),
    ("US$3.5", {}, "USD 3.50"),
    ("HK$20", {}, "HKD 20.00"),
    ("1.5万元", {}, "CNY 15000.00"),
    ("2亿美元", {}, "USD 200000000.00"),
    ("100元人民币", {}, "CNY 100.00"),
    ("3块钱", {}, "CNY 3.00"),
    ("5美元", {}, "USD 5.00"),
    ("20 dollars", {}, "USD 20.00"),
    ("€5", {}, "EUR 5.00"),
    ("RMB 100", {}, "CNY 100.00"),
    ("100 USD", {}, "USD 100.00"),
    ("$3 million", {}, "USD 3000000.00"),
    ("¥500", {"yen": "JPY", "decimals": 0}, "JPY 500"),
    ("¥1234567.5", {"thousands": True}, "CNY 1,234,567.50"),
    ("1234.50元", {"decimals": None, "format": "{amount} {code}"}, "1234.5 CNY"),
    # left alone
    ("3块蛋糕", {}, "3块蛋糕"),
    ("5 pounds of flour", {}, "5 pounds of flour"),
    ("三百元", {}, "三百元"),
    ("3元素", {}, "3元素"),
]


@pytest.mark.parametrize(("text", "options", "expected"), CURRENCY_CASES)
def test_standardize_currency(text: str, options: dict, expected: str) -> None:
    assert map_text("standardize_currency", text, **options) == expected


def test_standardize_currency_format_needs_amount() -> None:
    with pytest.raises(RecipeError, match="amount"):
        build_op("standardize_currency", {"format": "{code}"})


UNIT_CASES = [
    ("5公里", {}, "5 km"),
    ("长100米", {}, "长100 m"),
    ("2kg", {}, "2 kg"),
    ("5 kilometers", {}, "5 km"),
    ("-5℃", {}, "-5 °C"),
    ("30摄氏度", {}, "30 °C"),
    ("120平方米", {}, "120 m²"),
    ("60公里/小时", {}, "60 km/h"),
    ("5km/h", {}, "5 km/h"),
    ("1.5升水", {}, "1.5 L水"),
    ("500毫升", {}, "500 mL"),
    ("5公里", {"space": False}, "5km"),
    # left alone
    ("3克拉", {}, "3克拉"),
    ("大米饭", {}, "大米饭"),
    ("升级到3", {}, "升级到3"),
    ("5 miles", {}, "5 miles"),
    ("5g网络", {}, "5g网络"),
    ("3斤苹果", {}, "3斤苹果"),
]


@pytest.mark.parametrize(("text", "options", "expected"), UNIT_CASES)
def test_standardize_units(text: str, options: dict, expected: str) -> None:
    assert map_text("standardize_units", text, **options) == expected
