"""Recipes read inputs from URLs and Hugging Face folders and upload outputs to S3 and FTP: the
same data gives the same output bytes and lock hash as a local file, and no credential is written
anywhere in the run folder or printed."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
import xxhash
import yaml
from servers import FTP_PASSWORD, FTP_USER, HTTP_PASSWORD, HTTP_USER, S3, S3_KEY_ID, SECRETS

from sftforge.cli.main import main

RECORDS: list[dict[str, Any]] = [
    {
        "instruction": f"第 {i} 个问题: 如何微调?",
        "input": "",
        "output": f"回答 {i % 17}, see step {i}",
    }
    for i in range(60)
]
RECORDS += RECORDS[:5]  # exact duplicates: dedup rejects naming their kept twins


def data_bytes() -> bytes:
    lines = [orjson.dumps(r) for r in RECORDS]
    lines.insert(7, b'{"instruction": "broken line", ')  # a read reject naming file and line
    return b"\n".join(lines) + b"\n"


def recipe(tmp_path: Path, name: str, path: str, outputs: dict[str, Any] | None = None) -> Path:
    doc = {
        "seed": 7,
        "chunk_size": 16,
        "inputs": [{"path": path, "name": "faq", "format": "alpaca"}],
        "steps": [
            {"clean": {}},
            {"dedup_exact": {"view": "whole"}},
            {"split": {"ratios": {"train": 0.8, "test": 0.2}, "seed": 7}},
        ],
        "outputs": outputs
        or {
            "train": {"format": "sharegpt", "path": "train.jsonl"},
            "test": {"format": "alpaca", "path": "test.json"},
        },
    }
    file = tmp_path / f"{name}.yaml"
    file.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return file


def run(capsys: pytest.CaptureFixture[str], file: Path, out: Path) -> str:
    rc = main(["run", str(file), "-o", str(out), "--fresh"])
    stdout, stderr = capsys.readouterr()
    assert rc == 0, stderr
    return stdout + stderr


def lock_hash(out: Path) -> str:
    lock = yaml.safe_load((out / "recipe.lock.yaml").read_text(encoding="utf-8"))
    return str(lock["inputs"][0]["xxh3_64"])


def rejects_without_names(out: Path, name: str) -> list[dict[str, Any]]:
    """The rejects with the input's shown name replaced, so runs of other places compare."""
    rows = [orjson.loads(x) for x in (out / "rejects.jsonl").read_bytes().splitlines()]
    text = orjson.dumps(rows).decode().replace(name, "<input>")
    return list(orjson.loads(text))


@pytest.fixture
def local_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    (tmp_path / "faq.jsonl").write_bytes(data_bytes())
    out = tmp_path / "run-local"
    run(capsys, recipe(tmp_path, "local", str(tmp_path / "faq.jsonl")), out)
    return out


def same_as_local(local: Path, out: Path, shown: str, served: bytes | None = None) -> None:
    """Outputs and rejects as the local run's; the lock hashes the bytes served, as it hashes a
    local file's bytes (the same bytes: the same hash)."""
    for name in ("train.jsonl", "test.json"):
        assert (out / name).read_bytes() == (local / name).read_bytes(), name
    assert lock_hash(local) == xxhash.xxh3_64_hexdigest(data_bytes())
    assert lock_hash(out) == xxhash.xxh3_64_hexdigest(served or data_bytes())
    local_name = str(local.parent / "faq.jsonl")
    assert rejects_without_names(out, shown) == rejects_without_names(local, local_name)


def test_recipe_inputs_from_each_server(
    local_run: Path,
    served: Path,
    http: str,
    ftp: str,
    s3: S3,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    gz = gzip.compress(data_bytes())
    (served / "faq.jsonl.gz").write_bytes(gz)
    url = s3.put("inputs", "faq.jsonl", data_bytes())
    ftp_url = ftp.replace("ftp://", f"ftp://{FTP_USER}:{FTP_PASSWORD}@") + "/faq.jsonl.gz"
    shown_ftp = ftp.replace("ftp://", f"ftp://{FTP_USER}:***@") + "/faq.jsonl.gz"
    cases = [
        (url, url, None),
        (f"{http}/faq.jsonl.gz", f"{http}/faq.jsonl.gz", gz),
        (ftp_url, shown_ftp, gz),
    ]
    for i, (src, shown, served_bytes) in enumerate(cases):
        out = tmp_path / f"run-{i}"
        run(capsys, recipe(tmp_path, f"r{i}", src), out)
        same_as_local(local_run, out, shown, served_bytes)


def test_recipe_input_from_a_save_to_disk_folder(
    local_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import datasets

    # the broken line cannot be in a Dataset: compare with a local run of the good records only
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "faq.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in RECORDS))
    run(capsys, recipe(clean, "local", str(clean / "faq.jsonl")), clean / "run")
    datasets.Dataset.from_list(RECORDS).save_to_disk(str(tmp_path / "saved"), num_shards=2)
    capsys.readouterr()
    out = tmp_path / "run-saved"
    run(capsys, recipe(tmp_path, "saved", str(tmp_path / "saved")), out)
    for name in ("train.jsonl", "test.json"):
        assert (out / name).read_bytes() == (clean / "run" / name).read_bytes()
    # dedup rejects name the shard file and the row where the kept twin is
    rows = [orjson.loads(x) for x in (out / "rejects.jsonl").read_bytes().splitlines()]
    assert len(rows) == 5 and all(r["op"] == "dedup_exact" for r in rows)


def test_outputs_uploaded_to_s3_and_ftp_without_leaking_credentials(
    local_run: Path,
    served: Path,
    http_auth: str,
    ftp: str,
    s3: S3,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (served / "faq-auth.jsonl").write_bytes(data_bytes())
    src = http_auth.replace("http://", f"http://{HTTP_USER}:{HTTP_PASSWORD}@") + "/faq-auth.jsonl"
    s3.client.create_bucket(Bucket="results")
    ftp_out = ftp.replace("ftp://", f"ftp://{FTP_USER}:{FTP_PASSWORD}@") + "/up/test.json"
    outputs = {
        "train": {"format": "sharegpt", "path": "s3://results/runs/v1/train.jsonl"},
        "test": {"format": "alpaca", "path": ftp_out},
    }
    out = tmp_path / "run-upload"
    printed = run(capsys, recipe(tmp_path, "upload", src, outputs), out)
    # the run folder keeps its copies; the stores got the same bytes
    assert s3.get("results", "runs/v1/train.jsonl") == (local_run / "train.jsonl").read_bytes()
    assert (served / "up" / "test.json").read_bytes() == (local_run / "test.json").read_bytes()
    assert not [p.name for p in (served / "up").iterdir() if p.name.startswith(".")]
    same_as_local(local_run, out, src.replace(HTTP_PASSWORD, "***"))
    assert "train: uploaded to s3://results/runs/v1/train.jsonl" in printed
    assert f"test: uploaded to ftp://{FTP_USER}:***@" in printed
    # no credential in any file of the run folder, nor in what was printed
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"recipe.lock.yaml", "report.json", "rejects.jsonl"}
    for secret in SECRETS:
        assert secret not in printed
        for p in files:
            assert secret.encode() not in p.read_bytes(), (secret, p)
    lock = (out / "recipe.lock.yaml").read_text(encoding="utf-8")
    assert f"{HTTP_USER}:***@" in lock and f"{FTP_USER}:***@" in lock
    assert S3_KEY_ID not in lock


def test_an_http_output_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "faq.jsonl").write_bytes(data_bytes())
    outputs = {"train": {"format": "sharegpt", "path": "https://u:pw123@example.com/t.jsonl"}}
    file = recipe(tmp_path, "bad", str(tmp_path / "faq.jsonl"), outputs)
    rc = main(["run", str(file), "-o", str(tmp_path / "run")])
    _, err = capsys.readouterr()
    assert rc == 1 and err.count("\n") == 1
    assert "s3:// and ftp:// files only" in err and "u:***@example.com" in err
    assert "pw123" not in err


def test_two_uploads_with_one_file_name_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "faq.jsonl").write_bytes(data_bytes())
    outputs = {
        "train": {"format": "sharegpt", "path": "s3://a/x/data.jsonl"},
        "test": {"format": "sharegpt", "path": "ftp://host/y/data.jsonl"},
    }
    file = recipe(tmp_path, "clash", str(tmp_path / "faq.jsonl"), outputs)
    rc = main(["run", str(file), "-o", str(tmp_path / "run")])
    _, err = capsys.readouterr()
    assert rc == 1 and "same file in the run folder (data.jsonl)" in err


def test_recipe_input_by_hub_id_from_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "faq.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in RECORDS))
    run(capsys, recipe(clean, "local", str(clean / "faq.jsonl")), clean / "run")
    snap = tmp_path / "hub" / "datasets--me--faq" / "snapshots" / "c0ffee"
    (snap / "data").mkdir(parents=True)
    (snap.parent.parent / "refs").mkdir()
    (snap.parent.parent / "refs" / "main").write_text("c0ffee\n")
    pq.write_table(pa.Table.from_pylist(RECORDS), snap / "data" / "train-00000-of-00001.parquet")
    pq.write_table(pa.Table.from_pylist(RECORDS[:3]), snap / "data" / "test-00000-of-00001.parquet")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    out = tmp_path / "run-hub"
    run(capsys, recipe(tmp_path, "hub", "hf://datasets/me/faq#train"), out)
    for name in ("train.jsonl", "test.json"):
        assert (out / name).read_bytes() == (clean / "run" / name).read_bytes()
    lock = yaml.safe_load((out / "recipe.lock.yaml").read_text(encoding="utf-8"))
    shard = (snap / "data" / "train-00000-of-00001.parquet").read_bytes()
    assert lock["inputs"][0]["path"] == "hf://datasets/me/faq#train"
    assert lock["inputs"][0]["xxh3_64"] == xxhash.xxh3_64_hexdigest(shard)
