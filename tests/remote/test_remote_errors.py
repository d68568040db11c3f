"""A remote input that cannot be read ends the command with one line: the URL (password masked),
what went wrong and the fix; exit 1, no traceback. Hub ids without network say where to put the
files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from servers import FTP_PASSWORD, FTP_USER, HTTP_PASSWORD, HTTP_USER, S3, closed_port

from sftforge.cli.main import main


def fail(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    assert rc == 1, err
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err
    return err


def test_missing_object_on_each_server(
    s3: S3, http: str, ftp: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.put("data", "here.jsonl", b'{"instruction": "a", "output": "b"}\n')
    out = str(tmp_path / "o.jsonl")
    err = fail(capsys, "convert", "s3://data/absent.jsonl", out, "--to", "sharegpt")
    assert err == (
        "error: s3://data/absent.jsonl: no such file on the server. (opening) "
        "Fix: check the path (and the bucket) in the URL\n"
    )
    err = fail(capsys, "convert", "s3://nobucket/x.jsonl", out, "--to", "sharegpt")
    assert "s3://nobucket/x.jsonl: no such bucket" in err and "--s3-endpoint" in err
    err = fail(capsys, "convert", f"{http}/absent.jsonl", out, "--to", "sharegpt")
    assert err.startswith(f"error: {http}/absent.jsonl: no such file on the server.")
    url = ftp.replace("ftp://", f"ftp://{FTP_USER}:{FTP_PASSWORD}@") + "/absent.jsonl"
    err = fail(capsys, "convert", url, out, "--to", "sharegpt")
    assert err.startswith(f"error: ftp://{FTP_USER}:***@{ftp[6:]}/absent.jsonl: ")
    assert "check the path" in err and FTP_PASSWORD not in err
    assert not os.path.exists(out)


def test_wrong_password(
    served: Path,
    ftp: str,
    http_auth: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (served / "x.jsonl").write_bytes(b'{"instruction": "a", "output": "b"}\n')
    out = str(tmp_path / "o.jsonl")
    wrong = "not-the-Pa55word"
    url = ftp.replace("ftp://", f"ftp://{FTP_USER}:{wrong}@") + "/x.jsonl"
    err = fail(capsys, "inspect", url)
    assert err.startswith(f"error: ftp://{FTP_USER}:***@{ftp[6:]}/x.jsonl: ")
    assert "refused the login (530)" in err and "SFTFORGE_FTP_PASSWORD" in err
    assert wrong not in err
    url = http_auth.replace("http://", f"http://{HTTP_USER}:{wrong}@") + "/x.jsonl"
    err = fail(capsys, "validate", url)
    assert "refused access (HTTP 401)" in err and wrong not in err and HTTP_PASSWORD not in err
    # no credentials at all for FTP: the server refuses the anonymous login
    err = fail(capsys, "convert", f"{ftp}/x.jsonl", out, "--to", "sharegpt")
    assert "refused the login (530)" in err


def test_unreachable_hosts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    out = str(tmp_path / "o.jsonl")
    err = fail(capsys, "convert", f"http://127.0.0.1:{port}/x.jsonl", out, "--to", "sharegpt")
    assert f"http://127.0.0.1:{port}/x.jsonl: cannot reach the web server" in err
    assert "check the host and port" in err
    err = fail(
        capsys, "convert", f"ftp://u:secretpw@127.0.0.1:{port}/x.jsonl", out, "--to", "sharegpt"
    )
    assert f"ftp://u:***@127.0.0.1:{port}/x.jsonl: cannot reach the FTP server" in err
    assert "secretpw" not in err
    monkeypatch.setenv("SFTFORGE_S3_ENDPOINT", f"http://127.0.0.1:{port}")
    err = fail(capsys, "convert", "s3://b/x.jsonl", out, "--to", "sharegpt")
    assert "s3://b/x.jsonl: cannot reach the S3 endpoint" in err and "--s3-endpoint" in err


def test_no_s3_credentials(
    s3: S3, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    err = fail(
        capsys, "convert", "s3://data/x.jsonl", str(tmp_path / "o.jsonl"), "--to", "sharegpt"
    )
    assert "no S3 credentials found" in err and "AWS_SHARED_CREDENTIALS_FILE" in err


def cli(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a fresh process: hub libraries read their endpoints when first imported."""
    return subprocess.run(
        [sys.executable, "-m", "sftforge", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def test_hf_id_offline(tmp_path: Path) -> None:
    port = closed_port()
    env = {"HF_HUB_CACHE": str(tmp_path / "hub"), "HF_ENDPOINT": f"http://127.0.0.1:{port}"}
    res = cli(
        env,
        "convert",
        "hf://datasets/someone/absent",
        str(tmp_path / "o.jsonl"),
        "--to",
        "sharegpt",
    )
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert res.stderr.startswith(
        "error: hf://datasets/someone/absent: cannot download Hugging Face dataset someone/absent: "
    )
    assert "huggingface-cli download --repo-type dataset someone/absent" in res.stderr
    assert f"copy datasets--someone--absent into {tmp_path / 'hub'}" in res.stderr
    offline = cli({**env, "HF_HUB_OFFLINE": "1"}, "inspect", "hf://datasets/someone/absent#train")
    assert offline.returncode == 1 and offline.stderr.count("\n") == 1
    assert "cannot download Hugging Face dataset someone/absent" in offline.stderr


def test_modelscope_id_offline(tmp_path: Path) -> None:
    port = closed_port()
    env = {
        "MODELSCOPE_CACHE": str(tmp_path / "ms"),
        "MODELSCOPE_ENDPOINT": f"http://127.0.0.1:{port}",
    }
    res = cli(
        env, "convert", "modelscope://someone/absent", str(tmp_path / "o.jsonl"), "--to", "sharegpt"
    )
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert res.stderr.startswith(
        "error: modelscope://someone/absent: cannot download ModelScope dataset someone/absent: "
    )
    assert "modelscope download --dataset someone/absent" in res.stderr


def test_modelscope_cache_is_read_without_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "ms" / "datasets" / "someone" / "faq___v1"
    folder.mkdir(parents=True)
    (folder / "train.jsonl").write_bytes(b'{"instruction": "a", "input": "", "output": "b"}\n')
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms"))
    out = tmp_path / "o.jsonl"
    assert main(["convert", "ms://someone/faq.v1", str(out), "--to", "sharegpt"]) == 0
    assert out.read_bytes() == (
        b'{"conversations":[{"from":"human","value":"a"},{"from":"gpt","value":"b"}]}\n'
    )


@pytest.mark.parametrize(
    ("hidden", "url"),
    [
        ("fsspec", "https://example.com/x.jsonl"),
        ("fsspec", "ftp://example.com/x.jsonl"),
        ("botocore.session", "s3://bucket/x.jsonl"),
    ],
)
def test_a_missing_extra_names_what_to_install(
    hidden: str,
    url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, hidden, None)  # import fails as if not installed
    err = fail(capsys, "convert", url, str(tmp_path / "o.jsonl"), "--to", "sharegpt")
    scheme = url.split(":")[0].replace("https", "http")  # fsspec names the protocol http
    assert err == (
        f"error: {url}: reading {scheme}:// needs the remote extra. "
        "Fix: pip install 'sftforge[remote]'\n"
    )


DOC = Path(__file__).parent.parent.parent / "docs" / "io.md"


def test_the_error_lines_in_the_docs_are_what_the_cli_prints(
    s3: S3, served: Path, ftp: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [x + "\n" for x in DOC.read_text(encoding="utf-8").splitlines()]
    documented = [
        x for x in lines if x.startswith(("error: s3://", "error: ftp://", "error: http://"))
    ]
    assert len(documented) == 3
    s3.put("data", "here.jsonl", b"{}\n")
    (served / "x.jsonl").write_bytes(b'{"instruction": "a", "output": "b"}\n')
    out = str(tmp_path / "o.jsonl")
    got = [fail(capsys, "convert", "s3://data/absent.jsonl", out, "--to", "sharegpt")]
    url = ftp.replace("ftp://", f"ftp://{FTP_USER}:wrong@") + "/x.jsonl"
    got.append(
        fail(capsys, "convert", url, out, "--to", "sharegpt").replace(ftp[6:], "127.0.0.1:2121")
    )
    port = closed_port()
    err = fail(capsys, "convert", f"http://127.0.0.1:{port}/x.jsonl", out, "--to", "sharegpt")
    got.append(err.replace(str(port), "8000"))
    assert got == documented
