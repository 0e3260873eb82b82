"""A llama.cpp server built for this machine's CPU: the fast runtime for the bundled model, built once and cached.

The prebuilt xllamacpp wheel is compiled for a generic x86-64 with AVX2 (no AVX-512, no VNNI), so on a CPU that
has them its prompt processing runs well below what llama.cpp can do there. `python -m advisor.runtime build`
(`make runtime`) compiles llama.cpp's own `llama-server` from the llama.cpp sources vendored in the
llama-cpp-python source package on PyPI, with GGML_NATIVE (every instruction set this CPU has), and caches the
binary under the data directory together with the CPU flags it was built for. The local model then uses it
(ADVISOR_LOCAL_RUNTIME=auto, the default) and falls back to xllamacpp when it is absent, or was built on a CPU
with other flags.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from advisor.config import Settings

# The llama.cpp sources come from this source package (a tarball with llama.cpp in vendor/llama.cpp).
SOURCE_PACKAGE = "llama-cpp-python==0.3.36"
CMAKE_FLAGS = ("-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=ON", "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_CURL=OFF",
               "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF")


class RuntimeBuildError(RuntimeError):
    """The native llama.cpp server could not be built; the message says why in one line."""


def runtime_dir(settings: Settings) -> Path:
    return settings.data_dir / "runtimes"


def cpu_flags() -> str:
    """A digest of this CPU's instruction-set flags: a native build runs only where they are the same."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "unknown"
    flags = next((line.split(":", 1)[1] for line in text.splitlines() if line.startswith("flags")), "")
    return hashlib.sha256(" ".join(sorted(flags.split())).encode()).hexdigest()[:16]


def native_server(settings: Settings) -> Path | None:
    """The cached native llama-server for this CPU, or None (not built, or built for other CPU flags)."""
    folder = runtime_dir(settings)
    binary, record = folder / "llama-server", folder / "llama-server.json"
    try:
        info = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if info.get("cpu_flags") != cpu_flags() or info.get("source") != SOURCE_PACKAGE:
        return None
    return binary.resolve() if binary.is_file() and os.access(binary, os.X_OK) else None


def chosen_runtime(settings: Settings) -> tuple[str, Path | None]:
    """("native", binary) or ("xllamacpp", None), as ADVISOR_LOCAL_RUNTIME and what is built decide."""
    binary = native_server(settings)
    if settings.local_runtime == "xllamacpp" or (settings.local_runtime == "auto" and binary is None):
        return "xllamacpp", None
    if binary is None:
        raise RuntimeBuildError("ADVISOR_LOCAL_RUNTIME=native but no native llama-server is built for this CPU: "
                                "run `make runtime`")
    return "native", binary


def native_command(binary: Path, *, model: Path, alias: str, host: str, port: int, threads: int, ctx: int,
                   parallel: int, cache_mib: int) -> list[str]:
    """llama-server's flags for the same set-up as the xllamacpp server: a context of ctx per slot; flash attention
    on (its prompt throughput was the best of the variants `make bench-local` compares)."""
    origin = f"http://[{host}]" if ":" in host else f"http://{host}"
    return [str(binary), "--model", str(model), "--alias", alias, "--host", host, "--port", str(port),
            "--threads", str(threads), "--threads-batch", str(threads), "--ctx-size", str(ctx * parallel),
            "--parallel", str(parallel), "--no-kv-unified", "--cache-ram", str(cache_mib), "--flash-attn", "on",
            "--no-webui",
            "--cors-origins", origin]


def _source(work: Path) -> Path:
    """llama.cpp's source tree, unpacked from the source package (pip's cache makes a second download free)."""
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", "--disable-pip-version-check",
           "--quiet", "--dest", str(work), SOURCE_PACKAGE]
    done = subprocess.run(pip, capture_output=True, text=True, check=False)
    archives = sorted(work.glob("llama_cpp_python-*.tar.gz"))
    if done.returncode != 0 or not archives:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no archive"]
        raise RuntimeBuildError(f"could not download {SOURCE_PACKAGE}: {tail[0]}")
    with tarfile.open(archives[0]) as archive:
        archive.extractall(work, filter="data")
    [tree] = list(work.glob("llama_cpp_python-*/vendor/llama.cpp"))
    return tree


def build(settings: Settings, *, jobs: int | None = None, log: Path) -> Path:
    """Build and cache the native llama-server (nothing to do when it is there); return its path. The compiler's
    output goes to log."""
    existing = native_server(settings)
    if existing is not None:
        return existing
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise RuntimeBuildError(f"building the native runtime needs {tool} (Debian: apt-get install cmake g++)")
    folder = runtime_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("ab") as out, tempfile.TemporaryDirectory(dir=folder, prefix="build-") as tmp:
        work = Path(tmp)
        tree = _source(work)
        build_dir = work / "build"
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        steps = [["cmake", "-S", str(tree), "-B", str(build_dir), *generator, *CMAKE_FLAGS],
                 ["cmake", "--build", str(build_dir), "--target", "llama-server",
                  "-j", str(jobs or os.cpu_count() or 2)]]
        for step in steps:
            out.flush()
            done = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, check=False)
            if done.returncode != 0:
                raise RuntimeBuildError(f"{' '.join(step[:2])} failed with code {done.returncode} (log: {log})")
        binary = build_dir / "bin" / "llama-server"
        version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False)
        if version.returncode != 0:
            raise RuntimeBuildError(f"the built llama-server does not run: {version.stderr.strip()[-200:]}")
        staged = folder / "llama-server.new"
        shutil.copy2(binary, staged)
        os.replace(staged, folder / "llama-server")
        lines = (version.stdout + version.stderr).strip().splitlines()
        record = {"source": SOURCE_PACKAGE, "cpu_flags": cpu_flags(), "version": " ".join(lines[:2]),
                  "build_s": round(time.monotonic() - started, 1), "built": time.strftime("%Y-%m-%dT%H:%M:%S")}
        (folder / "llama-server.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    return folder / "llama-server"


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m advisor.runtime build|status`: build the native llama.cpp server, or say which runtime is used."""
    parser = argparse.ArgumentParser(prog="python -m advisor.runtime", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("build", help="build llama-server for this CPU once (minutes), cached")
    make.add_argument("--jobs", type=int, default=None)
    commands.add_parser("status", help="which runtime the local model uses")
    args = parser.parse_args(argv)
    settings = Settings()
    try:
        if args.command == "build":
            cached = native_server(settings) is not None
            started = time.monotonic()
            logs = settings.data_dir / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            path = build(settings, jobs=args.jobs, log=logs / "runtime-build.log")
            print(f"native llama-server {'already built' if cached else 'built'}: {path}"
                  + ("" if cached else f" ({time.monotonic() - started:.0f} s)"))
        else:
            name, binary = chosen_runtime(settings)
            print(f"local runtime: {name}" + (f" ({binary})" if binary else ""))
    except RuntimeBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
