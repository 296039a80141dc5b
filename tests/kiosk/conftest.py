"""Fixtures for the kiosk tests; they live in kiosk_support so test modules can import the helpers."""

from kiosk_support import _clear_retained, kiosk_id, make_config, prefix, responder

__all__ = ["_clear_retained", "kiosk_id", "make_config", "prefix", "responder"]
