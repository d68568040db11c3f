"""convert / inspect / validate read http(s), ftp and s3 URLs and Hugging Face datasets on disk,
giving byte for byte what the same data gives from a local file."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from servers import FTP_PASSWORD, FTP_USER, HTTP_PASSWORD, HTTP_USER, S3

from sftforge.cli.main import main
from sftforge.io import read_records

RECORDS = [
    {
        "instruction": f"问题 {i}: 什么是 SFT?",
        "input": "" if i % 3 else f"上下文 {i}",
        "output": f"答案 {i}",
    }
    for i in range(40)
] + [{"instruction": "Say hi", "input": "", "output": "Hi! 你好"}]


def jsonl(records: list[dict[str, str]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def convert(capsys: pytest.CaptureFixture[str], src: str, out: Path, *extra: str) -> bytes:
    rc = main(["convert", src, str(out), "--to", "sharegpt", *extra])
    _, err = capsys.readouterr()
    assert rc == 0, err
    return out.read_bytes()


@pytest.fixture
def local(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> bytes:
    """The reference: the data converted from a local file."""
    path = tmp_path / "alpaca.jsonl"
    path.write_bytes(jsonl(RECORDS))
    return convert(capsys, str(path), tmp_path / "local.jsonl")


def test_http_gives_the_local_bytes(
    local: bytes, served: Path, http: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (served / "alpaca.jsonl").write_bytes(jsonl(RECORDS))
    (served / "alpaca.jsonl.gz").write_bytes(gzip.compress(jsonl(RECORDS)))
    assert convert(capsys, f"{http}/alpaca.jsonl", tmp_path / "a.jsonl") == local
    assert convert(capsys, f"{http}/alpaca.jsonl.gz", tmp_path / "b.jsonl") == local


def test_http_basic_auth_and_the_password_is_masked(
    local: bytes, served: Path, http_auth: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (served / "alpaca.jsonl").write_bytes(jsonl(RECORDS))
    url = http_auth.replace("http://", f"http://{HTTP_USER}:{HTTP_PASSWORD}@") + "/alpaca.jsonl"
    rc = main(["convert", url, str(tmp_path / "a.jsonl"), "--to", "sharegpt"])
    _, err = capsys.readouterr()
    assert rc == 0, err
    assert (tmp_path / "a.jsonl").read_bytes() == local
    assert f"{HTTP_USER}:***@127.0.0.1" in err and HTTP_PASSWORD not in err


def test_ftp_gives_the_local_bytes(
    local: bytes, served: Path, ftp: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (served / "ftp-alpaca.jsonl.gz").write_bytes(gzip.compress(jsonl(RECORDS)))
    url = ftp.replace("ftp://", f"ftp://{FTP_USER}:{FTP_PASSWORD}@") + "/ftp-alpaca.jsonl.gz"
    assert convert(capsys, url, tmp_path / "a.jsonl") == local


def test_ftp_credentials_from_the_environment_or_netrc(
    local: bytes,
    served: Path,
    ftp: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (served / "env.jsonl").write_bytes(jsonl(RECORDS))
    monkeypatch.setenv("SFTFORGE_FTP_USER", FTP_USER)
    monkeypatch.setenv("SFTFORGE_FTP_PASSWORD", FTP_PASSWORD)
    assert convert(capsys, f"{ftp}/env.jsonl", tmp_path / "a.jsonl") == local
    monkeypatch.delenv("SFTFORGE_FTP_USER")
    monkeypatch.delenv("SFTFORGE_FTP_PASSWORD")
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {FTP_USER} password {FTP_PASSWORD}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert convert(capsys, f"{ftp}/env.jsonl", tmp_path / "b.jsonl") == local


def test_s3_gives_the_local_bytes(
    local: bytes, s3: S3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = s3.put("data", "sets/alpaca.jsonl", jsonl(RECORDS))
    gz = s3.put("data", "sets/alpaca.jsonl.gz", gzip.compress(jsonl(RECORDS)))
    assert convert(capsys, url, tmp_path / "a.jsonl") == local
    assert convert(capsys, gz, tmp_path / "b.jsonl") == local


def test_s3_endpoint_from_the_option_and_credentials_from_a_file(
    local: bytes,
    s3_store: S3,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from servers import S3_KEY_ID, S3_SECRET

    url = s3_store.put("data", "opt/alpaca.jsonl", jsonl(RECORDS))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    creds = tmp_path / "credentials"
    creds.write_text(
        f"[default]\naws_access_key_id = {S3_KEY_ID}\naws_secret_access_key = {S3_SECRET}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    out = tmp_path / "a.jsonl"
    rc = main(["--s3-endpoint", s3_store.endpoint, "convert", url, str(out), "--to", "sharegpt"])
    _, err = capsys.readouterr()
    assert rc == 0, err
    assert out.read_bytes() == local
    # the endpoint from boto3's own variable works as well
    monkeypatch.delenv("SFTFORGE_S3_ENDPOINT")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_store.endpoint)
    assert convert(capsys, url, tmp_path / "b.jsonl") == local


def test_remote_parquet_and_inspect_validate(
    s3: S3, served: Path, http: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(RECORDS), served / "alpaca.parquet")
    url = s3.put("data", "alpaca.parquet", (served / "alpaca.parquet").read_bytes())
    local = convert(capsys, str(served / "alpaca.parquet"), tmp_path / "local.jsonl")
    assert convert(capsys, url, tmp_path / "s3.jsonl") == local
    assert convert(capsys, f"{http}/alpaca.parquet", tmp_path / "http.jsonl") == local
    # an Arrow IPC stream (what save_to_disk writes), named .arrow and sniffed without a name
    table = pa.Table.from_pylist(RECORDS)
    with (
        pa.OSFile(str(served / "alpaca.arrow"), "wb") as sink,
        pa.ipc.new_stream(sink, table.schema) as writer,
    ):
        writer.write_table(table, max_chunksize=7)
    (served / "alpaca.data").write_bytes((served / "alpaca.arrow").read_bytes())
    assert convert(capsys, f"{http}/alpaca.arrow", tmp_path / "arrow.jsonl") == local
    assert convert(capsys, f"{http}/alpaca.data", tmp_path / "sniffed.jsonl") == local
    assert main(["validate", url]) == 0
    _, err = capsys.readouterr()
    assert err == f"{url}: alpaca, 41 records, 41 valid, ok\n"
    assert main(["inspect", url]) == 0
    out, _ = capsys.readouterr()
    assert "alpaca" in out and "s3://data/alpaca.parquet" in out


def test_records_name_the_url_and_line(s3: S3) -> None:
    url = s3.put("data", "lines.jsonl", jsonl(RECORDS[:3]))
    with read_records(url) as source:
        got = [(r.source, r.line) for r in source]
    assert got == [(url, 1), (url, 2), (url, 3)]


# --- Hugging Face datasets on disk ---------------------------------------------------------


def test_save_to_disk_folder_gives_the_local_bytes(
    local: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import datasets

    ds = datasets.Dataset.from_list(RECORDS)
    ds.save_to_disk(str(tmp_path / "saved"), num_shards=3)
    assert len(list((tmp_path / "saved").glob("data-*.arrow"))) == 3
    assert convert(capsys, str(tmp_path / "saved"), tmp_path / "a.jsonl") == local
    # one shard file alone: its rows, each naming the shard and its row there
    shard = sorted((tmp_path / "saved").glob("data-*.arrow"))[1]
    with read_records(str(tmp_path / "saved")) as source:
        located = [(Path(r.source).name, r.line) for r in source]
    assert located[0] == ("data-00000-of-00003.arrow", 1)
    n0 = sum(1 for name, _ in located if name.startswith("data-00000"))
    assert located[n0] == (shard.name, 1)
    assert len(located) == len(RECORDS)


def test_dataset_dict_needs_a_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import datasets

    dd = datasets.DatasetDict(
        train=datasets.Dataset.from_list(RECORDS[:30]),
        test=datasets.Dataset.from_list(RECORDS[30:]),
    )
    dd.save_to_disk(str(tmp_path / "dd"))
    capsys.readouterr()  # datasets' progress bars
    rc = main(["convert", str(tmp_path / "dd"), str(tmp_path / "x.jsonl"), "--to", "sharegpt"])
    _, err = capsys.readouterr()
    assert rc == 1
    assert err.count("\n") == 1 and "splits train, test" in err and "#train" in err
    out = tmp_path / "test.jsonl"
    assert convert(capsys, f"{tmp_path / 'dd'}#test", out).count(b"\n") == len(RECORDS) - 30


def test_hub_cache_by_id_and_by_folder(
    local: bytes,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    hub = tmp_path / "hub"
    repo = hub / "datasets--someone--faq"
    snap = repo / "snapshots" / "0123abcd"
    (snap / "data").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    pq.write_table(
        pa.Table.from_pylist(RECORDS[:20]), snap / "data" / "train-00000-of-00002.parquet"
    )
    pq.write_table(
        pa.Table.from_pylist(RECORDS[20:]), snap / "data" / "train-00001-of-00002.parquet"
    )
    pq.write_table(pa.Table.from_pylist(RECORDS[:5]), snap / "data" / "test-00000-of-00001.parquet")
    (snap / "README.md").write_text("# faq\n")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    assert convert(capsys, "hf://datasets/someone/faq#train", tmp_path / "a.jsonl") == local
    assert convert(capsys, f"{repo}#train", tmp_path / "b.jsonl") == local
    rc = main(
        ["convert", "hf://datasets/someone/faq", str(tmp_path / "c.jsonl"), "--to", "sharegpt"]
    )
    _, err = capsys.readouterr()
    assert rc == 1 and "several splits (test, train)" in err and "#test" in err


def test_a_folder_of_jsonl_shards(
    local: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "part-0.jsonl").write_bytes(jsonl(RECORDS[:10]))
    (shards / "part-1.jsonl.gz").write_bytes(gzip.compress(jsonl(RECORDS[10:])))
    assert convert(capsys, str(shards), tmp_path / "a.jsonl") == local


def test_convert_writes_to_s3_and_ftp_with_rejects(
    local: bytes,
    served: Path,
    ftp: str,
    s3: S3,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src = tmp_path / "with-bad.jsonl"
    src.write_bytes(jsonl(RECORDS) + b'{"instruction": "cut\n')
    s3.client.create_bucket(Bucket="out")
    rc = main(
        ["convert", str(src), "s3://out/conv/a.jsonl", "--to", "sharegpt", "--on-error", "skip"]
    )
    _, err = capsys.readouterr()
    assert rc == 0, err
    assert s3.get("out", "conv/a.jsonl") == local
    rejects = orjson.loads(s3.get("out", "conv/a.jsonl.rejects.jsonl"))
    assert rejects["line"] == len(RECORDS) + 1
    assert "rejects: s3://out/conv/a.jsonl.rejects.jsonl" in err
    url = ftp.replace("ftp://", f"ftp://{FTP_USER}:{FTP_PASSWORD}@") + "/conv/b.jsonl"
    rc = main(["convert", str(src), url, "--to", "sharegpt", "--on-error", "skip"])
    _, err = capsys.readouterr()
    assert rc == 0, err
    assert (served / "conv" / "b.jsonl").read_bytes() == local
    assert (served / "conv" / "b.jsonl.rejects.jsonl").exists()
    assert f"rejects: ftp://{FTP_USER}:***@" in err and FTP_PASSWORD not in err
    rc = main(["convert", str(src), "https://example.com/o.jsonl", "--to", "sharegpt"])
    _, err = capsys.readouterr()
    assert rc == 1 and "outputs go to s3:// and ftp:// files only" in err


def test_s3_endpoint_and_addressing_from_the_aws_config_file(
    local: bytes,
    s3_store: S3,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = s3_store.put("data", "cfg/alpaca.jsonl", jsonl(RECORDS))
    config = tmp_path / "aws-config"
    config.write_text(
        f"[default]\nendpoint_url = {s3_store.endpoint}\ns3 =\n    addressing_style = path\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("SFTFORGE_S3_ENDPOINT")
    assert convert(capsys, url, tmp_path / "a.jsonl") == local


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["../outside.arrow"], "state.json names a shard outside its folder (../outside.arrow)."),
        (
            ["data-00000-of-00002.arrow", "gone.arrow"],
            "state.json names shards that are not there (gone.arrow).",
        ),
    ],
)
def test_a_bad_state_json_is_one_clear_error(
    files: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import datasets

    datasets.Dataset.from_list(RECORDS).save_to_disk(str(tmp_path / "saved"), num_shards=2)
    state = orjson.loads((tmp_path / "saved" / "state.json").read_bytes())
    state["_data_files"] = [{"filename": f} for f in files]
    (tmp_path / "saved" / "state.json").write_bytes(orjson.dumps(state))
    (tmp_path / "outside.arrow").write_bytes(
        (tmp_path / "saved" / "data-00001-of-00002.arrow").read_bytes()
    )
    capsys.readouterr()
    rc = main(["convert", str(tmp_path / "saved"), str(tmp_path / "o.jsonl"), "--to", "sharegpt"])
    _, err = capsys.readouterr()
    assert rc == 1 and err.startswith(f"error: {tmp_path / 'saved'}: {message}")
