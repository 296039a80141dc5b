"""Frame sources for the capture loop: cameras, video files, image files, arrays.

A source yields ``Frame``s and says whether it is ``live``. A live source (a camera)
runs at its own pace, so the loop drops frames rather than fall behind; a recorded
source (files, arrays) waits for the decoder, so a test or a demo sees every frame.
Recorded frames carry media time (index / fps), so the hold-off behaves the same
however fast the machine decodes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov", ".webm", ".mjpeg", ".mjpg"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})


@dataclass(frozen=True)
class Frame:
    image: np.ndarray
    t: float  # seconds: monotonic clock for live sources, media time for recorded ones
    index: int


class FrameSource(Protocol):
    live: bool

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


class CameraSource:
    """An OpenCV ``VideoCapture``: a device index, ``/dev/videoN`` or a stream URL."""

    live = True

    def __init__(
        self,
        device: int | str = 0,
        width: int | None = 640,
        height: int | None = 480,
        fps: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capture = cv2.VideoCapture(device)
        if not self.capture.isOpened():
            raise OSError(f"cannot open camera {device!r}")
        if width and height:
            self.capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self.capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            self.capture.set(cv2.CAP_PROP_FPS, fps)
        # Ask the driver for the smallest queue: frames queued inside V4L2 are stale frames.
        self.capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.clock = clock

    def frames(self) -> Iterator[Frame]:
        index = 0
        while True:
            ok, image = self.capture.read()
            if not ok:
                return
            yield Frame(image, self.clock(), index)
            index += 1

    def close(self) -> None:
        self.capture.release()


class Picamera2Source:
    """A Raspberry Pi camera through picamera2 (imported only when used)."""

    live = True

    def __init__(self, width: int = 640, height: int = 480, clock: Callable[[], float] = time.monotonic) -> None:
        from picamera2 import Picamera2  # optional: only on a Pi with the camera stack

        self.camera: Any = Picamera2()
        # "RGB888" in picamera2 is B, G, R in memory: exactly OpenCV's BGR.
        config = self.camera.create_video_configuration(main={"size": (width, height), "format": "RGB888"})
        self.camera.configure(config)
        self.camera.start()
        self.clock = clock
        self._open = True

    def frames(self) -> Iterator[Frame]:
        index = 0
        while self._open:
            yield Frame(self.camera.capture_array("main"), self.clock(), index)
            index += 1

    def close(self) -> None:
        self._open = False
        self.camera.stop()


class VideoFileSource:
    """A recorded video file; ``realtime=True`` plays it at its frame rate, like a camera."""

    def __init__(self, path: str | Path, realtime: bool = False) -> None:
        self.path = str(path)
        self.capture = cv2.VideoCapture(self.path)
        if not self.capture.isOpened():
            raise OSError(f"cannot open video {self.path}")
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else 30.0
        self.live = realtime

    def frames(self) -> Iterator[Frame]:
        index, start = 0, time.monotonic()
        while True:
            ok, image = self.capture.read()
            if not ok:
                return
            t = index / self.fps
            if self.live:
                time.sleep(max(0.0, start + t - time.monotonic()))
            yield Frame(image, t, index)
            index += 1

    def close(self) -> None:
        self.capture.release()


class ArraySource:
    """Frames already in memory (or produced lazily), stamped ``index / fps``."""

    live = False

    def __init__(self, images: Iterable[np.ndarray], fps: float = 30.0) -> None:
        self.images = images
        self.fps = fps

    def frames(self) -> Iterator[Frame]:
        for index, image in enumerate(self.images):
            yield Frame(image, index / self.fps, index)

    def close(self) -> None:
        pass


class ImageFilesSource(ArraySource):
    """Image files, one frame each, ``interval`` seconds apart in media time."""

    def __init__(self, paths: Sequence[str | Path], interval: float = 1.0) -> None:
        self.paths = [Path(p) for p in paths]
        super().__init__(self._read(), fps=1.0 / interval)

    def _read(self) -> Iterator[np.ndarray]:
        for path in self.paths:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise OSError(f"cannot read image {path}")
            yield image


def open_source(spec: int | str | Path | Sequence[str | Path]) -> FrameSource:
    """A source from a short description, as given on a command line or in config.

    ``0`` or ``"0"``: camera index; ``"picamera2"``; ``/dev/video0`` or a URL: camera;
    a video file; an image file, a folder of images or a list of image paths.
    """
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return CameraSource(int(spec))
    if isinstance(spec, str | Path):
        text = str(spec)
        if text == "picamera2":
            return Picamera2Source()
        if text.startswith("/dev/") or "://" in text:
            return CameraSource(text)
        path = Path(text)
        if path.is_dir():
            return ImageFilesSource(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return VideoFileSource(path)
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return ImageFilesSource([path])
        raise ValueError(f"not a camera, video or image: {text}")
    return ImageFilesSource(list(spec))
