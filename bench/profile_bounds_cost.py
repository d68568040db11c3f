"""Cost of bounding the ``trl`` and ``axolotl`` profiles' renders (``profiles/hf_bounds.py``).

    python bench/profile_bounds_cost.py [--repeat 3]

In-process: the same profile encodes the same samples (the LLaMA-Factory demo sets: alpaca en/zh,
glaive tool calls en/zh, identity: 2690 samples) twice, once as shipped (every render bounded)
and once with the profiles' ``bounded_apply`` replaced by a plain
``tokenizer.apply_chat_template`` (transformers' unbounded Jinja); then the render alone (text,
one conversation per call), bounded and plain. Best of ``--repeat`` each,
alternating; the rows must be identical for the timing to count. Tokenizer: minimind (its own chat
template; ``assistant_only_loss`` uses the built-in qwen2.5 template, which has generation marks).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _demo_data import load
from _shared import SHARED_DATA

from sftforge.chat.jinja_bounds import DEFAULT_BOUNDS
from sftforge.chat.profiles import axolotl, get_profile, hf_bounds, load_tokenizer, trl
from sftforge.chat.templates import resolve_template

SETS = ["alpaca_en_demo", "alpaca_zh_demo", "glaive_toolcall_en_demo",
        "glaive_toolcall_zh_demo", "identity"]  # fmt: skip


def _plain(
    tokenizer: Any, conversation: Any, *, chat_template: str, bounds: Any, name: str, **kw: Any
) -> Any:
    return tokenizer.apply_chat_template(conversation, chat_template=chat_template, **kw)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tok = load_tokenizer(str(SHARED_DATA / "tokenizers/minimind"))
    samples = [s for name in SETS for s in load(name)[0]]
    qwen = resolve_template("qwen2.5", tok).source
    cases = [
        ("trl", {}, trl),
        ("trl assistant_only_loss", {"assistant_only_loss": True, "chat_template": qwen}, trl),
        ("trl prompt_completion", {"layout": "prompt_completion"}, trl),
        ("axolotl", {}, axolotl),
    ]
    print(f"{len(samples)} samples, minimind tokenizer")
    for label, options, module in cases:
        name = label.split()[0]
        best = {"bounded": float("inf"), "plain": float("inf")}
        rows: dict[str, Any] = {}
        for _ in range(args.repeat):
            for mode in ("bounded", "plain"):
                saved = module.bounded_apply
                if mode == "plain":
                    module.bounded_apply = _plain  # type: ignore[assignment]
                try:
                    prof = get_profile(name, tok, **options)
                    t0 = time.perf_counter()
                    rows[mode] = prof.encode_batch(samples)
                    best[mode] = min(best[mode], time.perf_counter() - t0)
                finally:
                    module.bounded_apply = saved  # type: ignore[assignment]
        same = rows["bounded"] == rows["plain"]
        ratio = best["bounded"] / best["plain"]
        print(
            f"{label:26s} bounded {best['bounded']:6.2f} s  plain {best['plain']:6.2f} s  "
            f"ratio {ratio:.2f}  identical rows: {same}"
        )
        if not same:
            raise SystemExit("rows differ")
    # the render alone (text, no tokenization), where the bounds' checks are
    convs = [trl.to_trl_messages(s) for s in samples]
    for label, source in (("minimind template", tok.chat_template), ("qwen2.5 template", qwen)):
        best = {"bounded": float("inf"), "plain": float("inf")}
        texts: dict[str, Any] = {}
        for _ in range(args.repeat):
            for mode in ("bounded", "plain"):
                apply = hf_bounds.bounded_apply if mode == "bounded" else _plain
                t0 = time.perf_counter()
                texts[mode] = [
                    apply(tok, c, chat_template=source, bounds=DEFAULT_BOUNDS, name="t",
                          tokenize=False)
                    for c in convs
                ]  # fmt: skip
                best[mode] = min(best[mode], time.perf_counter() - t0)
        print(
            f"render only, {label:18s} bounded {best['bounded']:6.2f} s  plain "
            f"{best['plain']:6.2f} s  ratio {best['bounded'] / best['plain']:.2f}  "
            f"identical text: {texts['bounded'] == texts['plain']}"
        )


if __name__ == "__main__":
    main()
