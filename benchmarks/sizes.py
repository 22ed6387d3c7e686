"""Section 5: unzipped sizes of what `sam build` produced, and what of the layer the product never imports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BUILD = Path(__file__).resolve().parent.parent / ".aws-sam" / "build"
LAYER = "LifecycleLayer"
TARGET_LAYER_MB = 25.0
MB = 1024 * 1024


@dataclass(frozen=True)
class Size:
    artifact: str
    bytes: int
    top: tuple[tuple[str, int], ...]  # the largest top-level entries (packages of a layer)


def _size(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def measure() -> list[Size]:
    """Every built function and layer folder (the layer's content is what Lambda unzips under /opt)."""
    sizes = []
    for artifact in sorted(path for path in BUILD.iterdir() if path.is_dir()):
        root = artifact / "python" if (artifact / "python").is_dir() else artifact
        entries = sorted(
            ((entry.name, _size(entry) if entry.is_dir() else entry.stat().st_size) for entry in root.iterdir()),
            key=lambda e: -e[1],
        )
        sizes.append(Size(artifact.name, _size(artifact), tuple(entries[:6])))
    return sizes
