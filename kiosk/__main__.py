"""``python -m kiosk`` is ``assetgate-kiosk`` (handy where the entry point is not on PATH)."""

from kiosk.cli import main

main()
