"""The shared real datasets: LLaMA-Factory's demo sets (read through dataset_info.json) and
FastChat's dummy conversations convert to every format that can carry them and back, losslessly.

Skipped when ../shared is absent. Files are loaded with plain orjson (the container readers
are tested elsewhere).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from sftforge.errors import ConversionError
from sftforge.formats import FORMATS, Format, LossLog, detect_format, get_format, load_dataset_info
from sftforge.sample import Sample
from shared_data import SHARED_DATA

SHARED = SHARED_DATA
INFO = SHARED / "llama_factory" / "data" / "dataset_info.json"
FASTCHAT = SHARED / "fastchat" / "dummy_conversation.json"
pytestmark = pytest.mark.skipif(not INFO.exists(), reason="shared data not present")

V1 = {"llamafactory_v1"}
CHAT = {"alpaca", "sharegpt", "openai", "swift", "xtuner", "litgpt", "fastchat", "flat"}
ALL_SAMPLE_FORMATS = CHAT | {"trl", "llamafactory_v1"}
# which formats can carry each dataset (everything else must refuse, naming what it would lose)
CARRIERS = {
    "identity": CHAT | V1,
    "alpaca_en_demo": CHAT | V1,
    "alpaca_zh_demo": CHAT | V1,
    "glaive_toolcall_en_demo": {"sharegpt", "openai", "swift", *V1},
    "glaive_toolcall_zh_demo": {"sharegpt", "openai", "swift", *V1},
    "mllm_demo": {"alpaca", "sharegpt", "openai", "swift", *V1},
    "mllm_audio_demo": {"alpaca", "sharegpt", "openai", "swift", *V1},
    "mllm_video_demo": {"alpaca", "sharegpt", "openai", "swift", *V1},
    "mllm_video_audio_demo": {"alpaca", "sharegpt", "openai", "swift", *V1},
    "dpo_en_demo": {"alpaca", "sharegpt", "swift", "trl", *V1},
    "dpo_zh_demo": {"alpaca", "sharegpt", "swift", "trl", *V1},
    "kto_en_demo": {"alpaca", "sharegpt", "openai", "swift", "trl"},
}
DOCUMENTS = {"wiki_demo", "c4_demo"}


def _load(path: Path) -> list[Any]:
    if path.suffix == ".txt":
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if path.suffix == ".jsonl":
        return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    data = orjson.loads(path.read_bytes())
    assert isinstance(data, list)
    return data


def _local_entries() -> dict[str, Any]:
    if not INFO.exists():
        return {}
    return {n: e for n, e in load_dataset_info(INFO).items() if e.path is not None}


def test_every_local_entry_is_covered() -> None:
    assert set(_local_entries()) == set(CARRIERS) | DOCUMENTS


def _check_carriers(source: Format, samples: list[Sample], carriers: set[str]) -> None:
    for target in sorted(ALL_SAMPLE_FORMATS):
        dest = get_format(target)
        if target not in carriers:
            with pytest.raises(ConversionError):
                for s in samples:
                    dest.dump(s, LossLog())
            # with --allow-lossy it goes through and counts the loss, unless the target cannot
            # hold the layout at all (a plain chat into trl): then it is refused every time
            lossy, refused = LossLog(allow=True), 0
            for s in samples:
                try:
                    dest.dump(s, lossy)
                except ConversionError:
                    refused += 1
            assert sum(lossy.counts.values()) > 0 or refused == len(samples), target
            continue
        through = [dest.parse(dest.dump(s, LossLog())) for s in samples]
        assert all(a.same_content(b) for a, b in zip(samples, through, strict=True)), target
        back = [source.parse(source.dump(s, LossLog())) for s in through]
        assert all(a.same_content(b) for a, b in zip(samples, back, strict=True)), target


@pytest.mark.parametrize("name", sorted(CARRIERS))
def test_llamafactory_dataset_converts_losslessly(name: str) -> None:
    entry = _local_entries()[name]
    samples = [entry.format.parse(v) for v in _load(entry.path)]
    again = [entry.format.parse(entry.format.dump(s, LossLog())) for s in samples]
    assert again == samples
    _check_carriers(entry.format, samples, CARRIERS[name])


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_llamafactory_document_sets_round_trip(name: str) -> None:
    entry = _local_entries()[name]
    fmt = entry.format
    assert fmt.kind == "document"
    docs = [fmt.parse(v) for v in _load(entry.path)]
    assert docs and [fmt.parse(fmt.dump(d, LossLog())) for d in docs] == docs


def test_fastchat_dummy_conversations_convert_losslessly() -> None:
    fmt = get_format("fastchat")
    samples = [fmt.parse(v) for v in _load(FASTCHAT)]
    assert len(samples) == 500 and samples[0].id == "identity_0"
    assert [fmt.parse(fmt.dump(s, LossLog())) for s in samples] == samples
    # litgpt: multi-turn; flat: the ids (a flat record has no id)
    _check_carriers(fmt, samples, (CHAT | V1) - {"litgpt", "flat"})


def test_registry_has_no_unknown_sample_format() -> None:
    # a newly registered format must be added to the tables above
    names = {n for n, f in FORMATS.items() if f.kind == "sample"} - {"native", "sftforge"}
    assert names == ALL_SAMPLE_FORMATS


# LLaMA-Factory's v1 demo files (not in dataset_info.json): typed content parts
V1_FILES = {
    "v1_sft_demo.jsonl": CHAT | V1,
    "v1_dpo_demo.jsonl": {"alpaca", "sharegpt", "swift", "trl", *V1},
    "v1_multimodal_demo.jsonl": {"alpaca", "sharegpt", "openai", "swift", *V1},
    "reason_tool_use_demo_50.jsonl": {"openai", *V1},
}


@pytest.mark.parametrize("file", sorted(V1_FILES))
def test_llamafactory_v1_files_convert_losslessly(file: str) -> None:
    values = _load(INFO.parent / file)
    assert detect_format(values)[0] == "llamafactory_v1"
    fmt = get_format("llamafactory_v1")
    samples = [fmt.parse(v) for v in values]
    assert [fmt.parse(fmt.dump(s, LossLog())) for s in samples] == samples
    _check_carriers(fmt, samples, V1_FILES[file])
