"""Builds the "bring your own data" example: a 300-row Chinese FAQ as Excel would export it.

``faq.csv`` is GBK-encoded with the headers ``问题,答案`` (what Excel on a Chinese Windows writes
for "CSV"); ``faq.xlsx`` holds the same rows (written only when openpyxl is installed). The answers
carry HTML, phone numbers, exact and near duplicates, as a real export does. Deterministic: running
it again gives the same files.

    python examples/faq/make_faq.py [folder]
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

TOPICS = [
    ("重置密码", "在登录页点击“忘记密码”，按短信验证码提示设置新密码即可。"),
    ("修改绑定手机号", "进入“账户设置 → 安全中心”，验证旧手机号后填写新号码。"),
    ("开具发票", "订单完成后在“我的订单”中选择“申请发票”，电子发票会发送到您的邮箱。"),
    ("退货", "签收后七天内可在订单详情页申请退货，商品需保持完好。"),
    ("换货", "质量问题可在十五天内申请换货，运费由我们承担。"),
    ("查看物流", "在订单详情页点击“查看物流”可看到最新的配送进度。"),
    ("修改收货地址", "订单发货前可在订单详情页修改地址，发货后请联系快递员。"),
    ("取消订单", "未发货的订单可以直接取消，款项会原路退回。"),
    ("退款到账时间", "退款审核通过后，一般一到三个工作日原路退回。"),
    ("会员积分", "每消费一元累计一积分，积分可在下单时抵扣现金。"),
    ("优惠券使用", "结算页会自动列出可用的优惠券，勾选即可使用。"),
    ("路由器恢复出厂设置", "通电状态下用牙签按住复位孔十秒，指示灯闪烁后松开。"),
    ("路由器无法上网", "请先检查光猫指示灯，再重启路由器，并确认宽带账号未欠费。"),
    ("设置无线密码", "登录管理页面 192.168.1.1，在“无线设置”中修改密码并保存。"),
    ("固件升级", "在管理页面的“系统工具 → 固件升级”中点击“在线升级”。"),
    ("信号弱", "请把路由器放在房屋中央的高处，远离微波炉和金属物体。"),
    ("保修期限", "整机保修一年，电源适配器保修六个月。"),
    ("售后网点", "可在官网“服务网点”页面按城市查询最近的售后网点。"),
    ("发票抬头错误", "发票开具后三十天内可申请作废并重新开具。"),
    ("账户注销", "在“账户设置 → 注销账户”中提交申请，七个工作日内处理完成。"),
]
ASKS = ["怎么{t}？", "如何{t}？", "{t}应该怎么操作？", "请问{t}的流程是什么？", "{t}有什么要求吗？"]
TAILS = ["", "如有疑问请联系客服。", "感谢您的支持！", "更多说明请见帮助中心。"]
PHONES = ["13812345678", "139-8765-4321", "021-62345678", "400-820-1234", "15900001111"]


def rows(seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for i in range(280):
        topic, answer = TOPICS[i % len(TOPICS)]
        ask = ASKS[(i // len(TOPICS)) % len(ASKS)].format(t=topic)
        if i >= len(TOPICS) * len(ASKS):
            ask = f"第{i}号咨询：{ask}"
        text = answer + rng.choice(TAILS)
        if i % 4 == 0:
            text = f"<p>{text}</p>"
        if i % 9 == 0:
            text = f"<div><b>提示：</b>{text}<br/></div>"
        if i % 9 == 4:
            text += f"人工客服电话：{PHONES[i % len(PHONES)]}。"
        out.append((ask, text))
    # ten exact duplicates of earlier rows, as a merged export repeats them
    out.extend(out[j * 13] for j in range(10))
    # ten near duplicates: the same answer with one word changed
    out.extend((q + " ", a.replace("即可", "就可以")) for q, a in out[100:110])
    return out


def main(folder: str = str(Path(__file__).parent)) -> None:
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    data = rows()
    with open(target / "faq.csv", "w", encoding="gbk", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["问题", "答案"])
        writer.writerows(data)
    try:
        from openpyxl import Workbook
    except ImportError:
        return
    book = Workbook()
    sheet = book.active
    sheet.append(["问题", "答案"])
    for q, a in data:
        sheet.append([q, a])
    book.save(target / "faq.xlsx")


if __name__ == "__main__":
    main(*sys.argv[1:])
