"""The SQLite bundle store keeps bundles under their replay handles, across reopenings."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.store.sqlite import BundleStore, StoreError


async def test_bundles_survive_reopening(tmp_path: Path) -> None:
    """A stored bundle is returned byte for byte by a store reopened on the same file."""
    path = str(tmp_path / "sub" / "store.sqlite3")
    store = await BundleStore.open(path)
    await store.put("h1", b'{"a":1}', 1714000000)
    await store.aclose()
    reopened = await BundleStore.open(path)
    try:
        assert await reopened.get("h1") == b'{"a":1}'
        assert await reopened.get("missing") is None
        assert await reopened.count() == 1
    finally:
        await reopened.aclose()


async def test_unwritable_path_is_a_store_error(tmp_path: Path) -> None:
    """A path under a regular file cannot be opened and says which setting to fix."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match=r"\[store\]\.path"):
        await BundleStore.open(str(blocker / "store.sqlite3"))
