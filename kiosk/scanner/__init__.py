"""Kiosk scanner: camera frames and keyboard-wedge scanners in, ``Scan`` callbacks out.

    loop = CaptureLoop(open_source(0), on_scan=[agent.handle_scan])
    loop.start()

Only valid AssetGate codes become a ``Scan``; other QR texts are ``Rejected`` (not ours,
or a wrong check symbol). See docs/scanner.md.
"""

from kiosk.scanner.capture import CaptureLoop, CaptureStats, LatestFrame
from kiosk.scanner.classify import BAD_CHECK, NOT_OURS, Classified, Rejected, Scan, classify
from kiosk.scanner.feedback import BellFeedback, Feedback, NullFeedback
from kiosk.scanner.holdoff import DEFAULT_HOLD_OFF, Dispatcher, HoldOff
from kiosk.scanner.pipeline import DEFAULT_STAGES, THOROUGH_STAGES, Pipeline, decode_frame
from kiosk.scanner.sources import (
    ArraySource,
    CameraSource,
    Frame,
    FrameSource,
    ImageFilesSource,
    Picamera2Source,
    VideoFileSource,
    open_source,
)
from kiosk.scanner.wedge import EvdevWedge, KeyDecoder, StreamWedge, open_wedge

__all__ = [
    "BAD_CHECK",
    "DEFAULT_HOLD_OFF",
    "DEFAULT_STAGES",
    "NOT_OURS",
    "THOROUGH_STAGES",
    "ArraySource",
    "BellFeedback",
    "CameraSource",
    "CaptureLoop",
    "CaptureStats",
    "Classified",
    "Dispatcher",
    "EvdevWedge",
    "Feedback",
    "Frame",
    "FrameSource",
    "HoldOff",
    "ImageFilesSource",
    "KeyDecoder",
    "LatestFrame",
    "NullFeedback",
    "Picamera2Source",
    "Pipeline",
    "Rejected",
    "Scan",
    "StreamWedge",
    "VideoFileSource",
    "classify",
    "decode_frame",
    "open_source",
    "open_wedge",
]
