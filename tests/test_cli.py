"""The `advisor` command line: contracts, exit codes, one-line errors, and an instant --help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.cli import EXIT_ERROR, EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, main
from advisor.config import REPO_ROOT, Settings

HEAVY = ["torch", "chromadb", "litellm", "gradio", "sentence_transformers", "transformers", "llama_index"]


def _modules_after(argv: list[str]) -> tuple[int, list[str], str]:
    script = (
        "import sys, json\n"
        "from advisor.cli import main\n"
        "try:\n    code = main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(json.dumps([code, heavy]), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, *argv], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    code, heavy = json.loads(proc.stderr.strip().splitlines()[-1])
    return code, heavy, proc.stdout + proc.stderr


@pytest.mark.parametrize("argv", [["--help"], ["search", "--help"], ["ingest", "--help"], ["models", "--help"],
                                  [], ["search"], ["search", "q", "--k", "0"], ["search", "q", "--kind", "x"],
                                  ["models", "--max-gpu-gb", "lots"], ["frobnicate"], ["score"],
                                  ["score", "--help"], ["costs", "--help"], ["costs", "--monthly-tokens", "lots"]])
def test_help_and_argument_errors_import_nothing_heavy(argv: list[str]) -> None:
    code, heavy, output = _modules_after(argv)
    assert heavy == [], f"{argv} imported {heavy}"
    assert code == (EXIT_OK if "--help" in argv else EXIT_USAGE), output
    if "--help" not in argv and argv:
        assert "error:" in output


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "advisor"
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "advisor 0.1.0"


def _use(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("ADVISOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ADVISOR_KNOWLEDGE_DIR", str(settings.knowledge_dir))


def test_search_json_contract(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                              shipped_index) -> None:  # type: ignore[no-untyped-def]
    _use(monkeypatch, shipped_index.settings)
    code = main(["search", "We must keep patient data on our own servers", "--k", "3", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK
    assert out["query"] == "We must keep patient data on our own servers"
    assert len(out["results"]) == 3 and out["latency_s"] >= 0
    for hit in out["results"]:
        assert {"id", "title", "path", "section", "score", "text", "kind"} <= set(hit)
    assert main(["search", "token prices", "--kind", "catalog", "--json"]) == EXIT_OK
    assert {h["kind"] for h in json.loads(capsys.readouterr().out)["results"]} == {"catalog"}


def test_search_prints_readable_results(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                        shipped_index) -> None:  # type: ignore[no-untyped-def]
    _use(monkeypatch, shipped_index.settings)
    assert main(["search", "LoRA memory for an 8B model", "--k", "2"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[1] ") and "§" in lines[0] and "score" in lines[0]


@pytest.mark.parametrize("query", ["", "   ", "\x00\x01", "x" * 5000])
def test_bad_queries_give_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                   tmp_path: Path, query: str) -> None:
    monkeypatch.setenv("ADVISOR_DATA_DIR", str(tmp_path))
    assert main(["search", query]) == EXIT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("advisor: error: the query is")
    assert not (tmp_path / "chroma").exists()  # rejected before anything was opened


def test_ingest_reports_skips_and_exit_code(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path, small_kb: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ADVISOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ADVISOR_KNOWLEDGE_DIR", str(small_kb))
    good = tmp_path / "good.md"
    good.write_text("# Good\n\nUseful text.\n", encoding="utf-8")
    assert main(["ingest", str(good), str(tmp_path / "nope.pdf")]) == EXIT_SKIPPED
    captured = capsys.readouterr()
    assert f"advisor: skipped {tmp_path / 'nope.pdf'}: no such file or directory" in captured.err
    assert captured.out.startswith("ingest: 3 documents (3 new")
    assert main(["ingest", "--json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["unchanged"] == 3 and report["embedded"] == 0


def test_models_filters_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--open-weights", "--license", "apache", "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    models = data["results"]
    assert models and data["count"] == len(models)
    assert all(m["open_weights"] and m["license"].startswith("apache") for m in models)
    assert all(m["sources"] and m["as_of"] and "possibly_stale" in m for m in models)
    assert main(["models", "--min-context", "5000000"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "llama-4-scout" in out and "\ngpt-4.1 " not in out and "1 of 56 models" in out
    assert main(["models", "--kind", "api", "--sort", "price_blended", "--limit", "1", "--json"]) == EXIT_OK
    # gpt-4.1-nano (0.16) was cheaper but is retired; gpt-4.1-mini's blend is 0.64.
    assert [m["id"] for m in json.loads(capsys.readouterr().out)["results"]] == ["gpt-4.1-mini"]


def test_models_flags_stale_prices(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ADVISOR_CATALOG_STALE_DAYS", "30")
    assert main(["models", "--text", "gpt-4.1-mini"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "2026-10-15 *" in out and "possibly stale (older than 30 days)" in out


def test_bad_settings_and_bad_catalog_are_one_line(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.setenv("ADVISOR_CHUNK_SIZE", "lots")
    assert main(["models"]) == EXIT_ERROR
    assert capsys.readouterr().err.startswith("advisor: error: bad setting ADVISOR_CHUNK_SIZE")
    monkeypatch.delenv("ADVISOR_CHUNK_SIZE")
    (tmp_path / "models.yaml").write_text("models: [\n", encoding="utf-8")
    monkeypatch.setenv("ADVISOR_KNOWLEDGE_DIR", str(tmp_path))
    assert main(["models"]) == EXIT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "models.yaml" in err[0] and "malformed YAML" in err[0]


def test_dead_chroma_server_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("ADVISOR_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("ADVISOR_CHROMA_PORT", str(port))
    monkeypatch.setenv("ADVISOR_DATA_DIR", str(tmp_path))
    assert main(["search", "anything"]) == EXIT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"advisor: error: cannot open the Chroma store at 127.0.0.1:{port}")


def test_offline_variables_are_set_by_the_entry_point() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    proc = subprocess.run(
        [sys.executable, "-c", "import os, sys\nfrom advisor.cli import main\ntry: main(['--version'])\n"
         "except SystemExit: pass\nprint(os.environ.get('HF_HUB_OFFLINE'), os.environ.get('TRANSFORMERS_OFFLINE'))"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["advisor", "0.1.0", "1", "1"]


def test_a_database_that_cannot_be_reached_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from tests.postgres import free_port

    monkeypatch.setenv("ADVISOR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ADVISOR_DATABASE_URL", f"postgresql://app:hunter2@127.0.0.1:{free_port()}/advisor")
    assert main(["feedback", "0" * 32, "up"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("advisor: error: cannot connect to postgresql://app:***@127.0.0.1:") and err.count("\n") == 1
    assert "hunter2" not in err
    monkeypatch.setenv("ADVISOR_DATABASE_URL", "mysql://app:hunter2@db/advisor")
    assert main(["feedback", "0" * 32, "up"]) == EXIT_ERROR
    assert capsys.readouterr().err.startswith("advisor: error: unsupported database URL mysql://app:***@db/advisor")
