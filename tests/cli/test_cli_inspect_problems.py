"""``inspect`` finds what a recipe should fix, and the steps it prints fix exactly that.

The file is a Chinese FAQ written here (seeded): HTML in 12 answers, 31 phone numbers, 10 exact
and 3 near duplicates, 4 English answers to Chinese prompts, 5 placeholder answers and 2 answers
a hundred times longer than the rest.
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest
import yaml

from sftforge.cli.main import main
from sftforge.inspection import inspect_file
from sftforge.ops.base import build_op
from sftforge.pipeline.recipe import load_ops

SENTENCES = (
    "您好，这项业务需要本人携带有效身份证件到营业厅办理。",
    "营业厅的工作时间是周一至周五上午九点到下午五点。",
    "如果忘记了密码，可以在手机银行里申请重置。",
    "信用卡的额度可以在还款后自动恢复。",
    "转账限额可以通过网上银行进行调整。",
    "挂失以后需要等待七个工作日才能补办新卡。",
    "开通短信提醒服务每个月收取两元的手续费。",
    "定期存款到期以后会自动续存一年。",
    "提前支取定期存款会按照活期利率计算利息。",
    "理财产品有一定的风险，购买前请仔细阅读说明书。",
    "代办业务需要提供委托书和双方的身份证原件。",
    "账单分期的手续费按月收取，具体费率请咨询客服。",
    "节假日期间部分网点会暂停营业，请提前预约。",
    "您可以在我们的官方网站上查询最近的网点地址。",
    "办理完成以后，我们会通过短信通知您审核结果。",
    "请您核对一下账户信息，确认无误后再签字。",
    "复印件需要清晰完整，并由本人签名确认。",
    "外币兑换需要提前一天电话预约。",
    "如果遇到问题，可以随时联系我们的人工客服。",
    "企业开户需要准备营业执照和法人身份证明。",
    "每笔跨行转账都会收取一定的手续费。",
    "储蓄卡的年费在每年的第一个月自动扣除。",
    "为了您的资金安全，请不要把验证码告诉他人。",
    "贷款申请提交以后，一般三个工作日内完成审批。",
    "积分可以在积分商城兑换礼品或者抵扣年费。",
    "更换手机号码以后，请及时到柜台更新预留信息。",
    "自助设备可以办理存款、取款和查询余额。",
    "境外消费会按照当天的汇率进行结算。",
    "未成年人开户需要监护人陪同办理。",
    "银行不会以任何理由要求您转账到安全账户。",
    "账户长期不用可能会被转为睡眠户。",
    "您可以通过手机银行随时查看交易明细。",
    "大额取现需要提前一天到网点预约。",
    "信用卡逾期会影响个人的征信记录。",
    "我们提供上门服务，适合行动不便的老年客户。",
    "房贷提前还款需要提前一个月提出申请。",
    "电子回单可以在网上银行下载打印。",
    "公积金贷款的利率比商业贷款低一些。",
    "网点排队人数较多时，建议您使用线上渠道。",
    "保管箱租用需要签订协议并缴纳押金。",
)
QUESTIONS = (
    "请问{}怎么办理？",
    "{}需要带什么材料？",
    "{}要多长时间？",
    "在哪里可以办理{}？",
    "{}收费吗？",
)
TOPICS = (
    "信用卡挂失", "密码重置", "定期存款", "外币兑换", "企业开户", "贷款申请", "短信提醒", "转账限额",
    "账单分期", "积分兑换", "大额取现", "房贷提前还款", "电子回单", "保管箱租用", "未成年人开户",
)  # fmt: skip
ENGLISH = "Please bring your passport and visit any branch during business hours to apply."


def _answer(rng: random.Random) -> str:
    return "".join(rng.sample(SENTENCES, 4))


def _question(rng: random.Random, i: int) -> str:
    return rng.choice(QUESTIONS).format(rng.choice(TOPICS)) + f"（编号{i}）"


def _faq(path: Path) -> Path:
    rng = random.Random(7)
    rows = []
    for i in range(200):
        prompt, answer = _question(rng, i), _answer(rng)
        if 30 <= i < 42:
            answer = f"<p>{answer}</p><br>详情见&nbsp;官网"
        elif 50 <= i < 81:
            answer += f"请拨打电话138{i:04d}{i:04d}咨询。"
        elif 100 <= i < 104:
            answer = ENGLISH
        elif 120 <= i < 125:
            answer = "无"
        elif 140 <= i < 142:
            answer = "".join(_answer(rng) for _ in range(60))
        rows.append({"instruction": prompt, "input": "", "output": answer})
    rows += [dict(r) for r in rows[:10]]  # 10 exact duplicates
    for r in rows[20:23]:  # 3 near duplicates: a few words added at the end
        rows.append({**r, "output": r["output"] + "谢谢。"})
    path.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2))
    return path


EXPECTED = {
    "html": 12,
    "empty_turns": 5,
    "personal_data": 31,
    "exact_duplicates": 10,
    "near_duplicates": 3,
    "untranslated": 4,
    "length_outliers": 7,  # the 2 long answers and the 5 one-character placeholders
}


def test_inspect_counts_each_problem(tmp_path: Path) -> None:
    rep = inspect_file(_faq(tmp_path / "faq.json"))
    assert {p.kind: p.count for p in rep.problems} == EXPECTED
    by_kind = {p.kind: p for p in rep.problems}
    assert by_kind["html"].rows == [31, 32, 33, 34, 35]  # record numbers, 1-based
    assert by_kind["exact_duplicates"].rows[:3] == [201, 202, 203]
    assert by_kind["near_duplicates"].rows == [211, 212, 213]
    assert "phone 31" in by_kind["personal_data"].detail
    assert "zh→en 4" in by_kind["untranslated"].detail
    assert rep.languages["zh"] >= 210  # Chinese prompts: no language mix reported
    assert all(p.checked == 213 for p in rep.problems if p.kind != "length_outliers")


def test_fix_steps_are_real_operators_and_fix_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _faq(tmp_path / "faq.json")
    assert main(["inspect", str(src), "--examples", "0"]) == 0
    out = capsys.readouterr().out
    assert "  html: 12 of 213 records with HTML tags or entities" in out
    fix = out.split("fix: add these steps to a recipe (sftforge run):\n", 1)[1]
    steps = yaml.safe_load("\n".join(line[2:] for line in fix.splitlines()))["steps"]
    assert [next(iter(s)) for s in steps] == [
        "clean_html",
        "redact_pii",
        "empty_answer_filter",
        "language_filter",
        "length_filter",
        "dedup_exact",
        "dedup_near",
    ]
    load_ops()
    for step in steps:  # every suggested step builds as written
        ((name, options),) = step.items()
        build_op(name, options)
    recipe = {
        "inputs": [{"path": src.name}],
        "steps": steps,
        "outputs": {"train": {"format": "alpaca", "path": "train.json"}},
    }
    (tmp_path / "fix.yaml").write_text(yaml.safe_dump(recipe, allow_unicode=True), "utf-8")
    assert main(["run", str(tmp_path / "fix.yaml"), "-o", str(tmp_path / "run")]) == 0
    after = inspect_file(tmp_path / "run" / "train.json")
    assert after.problems == []
    # what was dropped: duplicates, placeholders, English answers, the 2 long ones
    assert after.read == 213 - 10 - 3 - 5 - 4 - 2


def test_json_report_carries_problems_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _faq(tmp_path / "faq.json")
    assert main(["inspect", str(src), "--json", "--check-limit", "100"]) == 0
    rep = orjson.loads(capsys.readouterr().out)
    kinds = {p["kind"]: p for p in rep["problems"]}
    # the slower checks looked at the first 100 records only, and say so
    assert kinds["personal_data"]["checked"] == 100
    assert kinds["personal_data"]["count"] == 31
    assert "exact_duplicates" not in kinds  # the copies are records 201-210
    assert kinds["html"]["checked"] == 213
    assert rep["fix"].startswith("steps:\n- clean_html: {}\n")


def test_no_problems_and_no_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = tmp_path / "ok.jsonl"
    rng = random.Random(1)
    clean.write_bytes(
        b"".join(
            orjson.dumps({"instruction": _question(rng, i), "output": _answer(rng)}) + b"\n"
            for i in range(30)
        )
    )
    assert main(["inspect", str(clean), "--examples", "0"]) == 0
    out = capsys.readouterr().out
    assert "problems:   none found" in out and "fix:" not in out
    assert main(["inspect", str(_faq(tmp_path / "faq.json")), "--no-problems"]) == 0
    assert "problems:" not in capsys.readouterr().out
