"""The shared QR sample photos (../shared/qr-samples) as (folder, image, expected text).

Used by the decode tests and bench/bench_decode.py so both count the same way. Not used
at run time by the kiosk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
# zxing-cpp/qrcode-7 is structured append: four symbols that only together make 01.txt.
SKIP_FOLDERS = frozenset({"zxing-cpp/qrcode-7"})
# qrcode-2/16 is a "double QR": a small red symbol printed inside a large black one. The
# two upstream sets expect different symbols of the same picture (zxing the outer one,
# zxing-cpp the inner one), so reading the other symbol is not a misread. Keyed by the
# image name; the value names the expected file that holds the other symbol's text.
OTHER_SYMBOL = {
    "zxing/qrcode-2/16.png": "zxing-cpp/qrcode-2/16.txt",
    "zxing-cpp/qrcode-2/16.webp": "zxing/qrcode-2/16.txt",
}


@dataclass(frozen=True)
class Sample:
    folder: str  # e.g. "zxing/qrcode-4"
    path: Path
    expected: str
    also_present: frozenset[str] = frozenset()  # texts of other symbols in the same picture

    @property
    def name(self) -> str:
        return f"{self.folder}/{self.path.name}"

    def misreads(self, texts: Iterable[str]) -> list[str]:
        """Returned texts that are in no symbol of this picture."""
        return [t for t in texts if t != self.expected and t not in self.also_present]


def default_root() -> Path:
    """``$ASSETGATE_QR_SAMPLES``, else ``<repo>/../shared/qr-samples`` (same place on CI)."""
    env = os.environ.get("ASSETGATE_QR_SAMPLES")
    if env:
        return Path(env)
    return (Path(__file__).resolve().parents[2] / ".." / "shared" / "qr-samples").resolve()


def _read_text(path: Path) -> str:
    # Bytes, then UTF-8: text mode would turn the "\r\n" that some symbols hold into "\n".
    return path.read_bytes().decode("utf-8")


def load_samples(root: Path | None = None) -> list[Sample]:
    """Every image that has an expected ``NAME.txt``, in a stable order."""
    root = root or default_root()
    samples = []
    for folder in sorted(p for p in root.glob("*/qrcode-*") if p.is_dir()):
        key = f"{folder.parent.name}/{folder.name}"
        if key in SKIP_FOLDERS:
            continue
        for image in sorted(folder.iterdir()):
            expected = image.with_suffix(".txt")
            if image.suffix.lower() not in IMAGE_SUFFIXES or not expected.is_file():
                continue
            name = f"{key}/{image.name}"
            other = OTHER_SYMBOL.get(name)
            also = frozenset({_read_text(root / other)}) if other and (root / other).is_file() else frozenset()
            samples.append(Sample(key, image, _read_text(expected), also))
    return samples
