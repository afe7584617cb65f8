"""Start-up faults (issue 10 item 16): an unopenable store path is a one-line config error."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path


async def test_unopenable_store_path_is_a_one_line_config_error(tmp_path: Path) -> None:
    """`[store] path` under a regular file: exit 2, one stderr line naming the key, no traceback."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    config = tmp_path / "proxy.toml"
    config.write_text(
        '[[upstreams]]\nname = "x"\nbase_url = "http://127.0.0.1:9/v1"\n'
        f'[store]\npath = "{blocker / "store.sqlite3"}"\n'
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy.commands.serve", "--config", str(config), "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "OPENAI_API_KEY": ""},
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1, stderr.decode()
    assert lines[0].startswith("assurance serve: Cannot open the bundle store")
    assert "[store].path" in lines[0]
    assert b"Traceback" not in stdout + stderr
