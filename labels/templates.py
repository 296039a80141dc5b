"""Label templates: the physical stock (sheet or roll) and the printer it goes through.

All lengths are millimetres, measured from the page's top-left corner, because that is how makers
publish sheet specifications and how printers feed paper. Templates are pydantic models with
``extra="forbid"`` so a typo in a user's TOML file is an error that names the key, not a silent default.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from labels.model import LabelError

MM_PER_INCH = 25.4
# Layout arithmetic in floats (0.1 mm steps) leaves tiny residues; this is far below any printer's dot.
_EPS = 1e-6


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Size(_Strict):
    width_mm: float = Field(gt=0, le=1000, description="Width in millimetres.")
    height_mm: float = Field(gt=0, le=3000, description="Height in millimetres.")


class LabelSize(Size):
    padding_mm: float = Field(1.0, ge=0, description="Blank border kept inside each label (printer registration).")


class Grid(_Strict):
    """Where the labels sit on a sheet: maker's top and side margins and the pitch (label + gap)."""

    columns: int = Field(ge=1, le=50)
    rows: int = Field(ge=1, le=100)
    left_mm: float = Field(ge=0, description="Sheet edge to the first column's left edge.")
    top_mm: float = Field(ge=0, description="Sheet edge to the first row's top edge.")
    pitch_x_mm: float = Field(gt=0, description="Left edge of one column to the left edge of the next.")
    pitch_y_mm: float = Field(gt=0, description="Top edge of one row to the top edge of the next.")


class Printer(_Strict):
    dpi: int = Field(ge=72, le=2400, description="Printer resolution; QR modules are snapped to whole dots.")
    min_module_mm: float = Field(gt=0, le=5, description="Smallest QR module the printer renders reliably.")
    ec_level: Literal["L", "M", "Q", "H"] = Field("M", description="QR error-correction level (exactly this one).")
    quiet_zone_modules: int = Field(4, ge=4, le=16, description="Blank modules around the QR (ISO 18004: 4).")


class Template(_Strict):
    """A label stock. A roll template has no page or grid: each label is its own page."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    description: str = ""
    label: LabelSize
    page: Size | None = None
    grid: Grid | None = None
    printer: Printer

    @model_validator(mode="after")
    def _fits(self) -> Template:
        if (self.page is None) != (self.grid is None):
            raise ValueError("a sheet template needs both [page] and [grid]; a roll template neither")
        lab = self.label
        if 2 * lab.padding_mm >= min(lab.width_mm, lab.height_mm):
            raise ValueError("label.padding_mm leaves no printable area")
        if self.grid is not None and self.page is not None:
            g, p = self.grid, self.page
            if g.pitch_x_mm + _EPS < lab.width_mm or g.pitch_y_mm + _EPS < lab.height_mm:
                raise ValueError("grid pitch is smaller than the label: labels would overlap")
            right = g.left_mm + (g.columns - 1) * g.pitch_x_mm + lab.width_mm
            bottom = g.top_mm + (g.rows - 1) * g.pitch_y_mm + lab.height_mm
            if right > p.width_mm + _EPS:
                raise ValueError(f"grid is {right:.2f} mm wide but the page only {p.width_mm} mm")
            if bottom > p.height_mm + _EPS:
                raise ValueError(f"grid is {bottom:.2f} mm tall but the page only {p.height_mm} mm")
        return self

    @property
    def is_sheet(self) -> bool:
        return self.grid is not None

    @property
    def per_page(self) -> int:
        return self.grid.columns * self.grid.rows if self.grid else 1

    @property
    def page_size_mm(self) -> tuple[float, float]:
        if self.page is None:
            return self.label.width_mm, self.label.height_mm
        return self.page.width_mm, self.page.height_mm

    @property
    def dot_mm(self) -> float:
        return MM_PER_INCH / self.printer.dpi

    def slot(self, index: int) -> Rect:
        """The label at ``index`` on a page (row by row, left to right), from the page's top-left."""
        if not 0 <= index < self.per_page:
            raise IndexError(index)
        if self.grid is None:
            return Rect(0.0, 0.0, self.label.width_mm, self.label.height_mm)
        row, col = divmod(index, self.grid.columns)
        return Rect(self.grid.left_mm + col * self.grid.pitch_x_mm, self.grid.top_mm + row * self.grid.pitch_y_mm,
                    self.label.width_mm, self.label.height_mm)


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle in millimetres, ``x``/``y`` its top-left corner measured from the page's top-left."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def inset(self, d: float) -> Rect:
        return Rect(self.x + d, self.y + d, self.w - 2 * d, self.h - 2 * d)


# Sheet printers (laser/inkjet) print at 600 dpi or more; 300 dpi is the conservative grid that every
# one of them reproduces exactly, and the resolution the tests decode at.
_SHEET_PRINTER = Printer(dpi=300, min_module_mm=0.4, ec_level="M", quiet_zone_modules=4)
# Direct-thermal heads are 203 dpi (8 dots/mm); below 3 dots a module blurs as the head heats up.
_THERMAL_PRINTER = Printer(dpi=203, min_module_mm=0.375, ec_level="M", quiet_zone_modules=4)
_A4 = Size(width_mm=210.0, height_mm=297.0)


def _avery(name: str, desc: str, w: float, h: float, cols: int, rows: int, pitch_x: float, top: float,
           padding: float) -> Template:
    # Avery A4 sheets are centred: the side margin follows from the pitch, as on the maker's data sheet.
    left = round((_A4.width_mm - (cols - 1) * pitch_x - w) / 2, 3)
    return Template(name=name, description=desc, page=_A4, printer=_SHEET_PRINTER,
                    label=LabelSize(width_mm=w, height_mm=h, padding_mm=padding),
                    grid=Grid(columns=cols, rows=rows, left_mm=left, top_mm=top, pitch_x_mm=pitch_x, pitch_y_mm=h))


def _roll(name: str, desc: str, w: float, h: float, padding: float) -> Template:
    return Template(name=name, description=desc, printer=_THERMAL_PRINTER,
                    label=LabelSize(width_mm=w, height_mm=h, padding_mm=padding))


# Dimensions from Avery's A4 product specifications (label size, top margin, horizontal pitch;
# vertical pitch equals label height, no row gap). Side margins 4.75 / 7.21 / 4.65 mm.
_BUILTIN: dict[str, Template] = {t.name: t for t in (
    _avery("a4-l7651", "Avery L7651: A4, 65 labels 38.1 x 21.2 mm (5 x 13)", 38.1, 21.2, 5, 13, 40.6, 10.7, 1.0),
    _avery("a4-l7160", "Avery L7160: A4, 21 labels 63.5 x 38.1 mm (3 x 7)", 63.5, 38.1, 3, 7, 66.04, 15.15, 1.5),
    _avery("a4-l7163", "Avery L7163: A4, 14 labels 99.1 x 38.1 mm (2 x 7)", 99.1, 38.1, 2, 7, 101.6, 15.15, 1.5),
    _roll("thermal-62", "62 mm continuous roll (e.g. Brother DK-22205), cut every 30 mm", 62.0, 30.0, 1.5),
    _roll("thermal-50x30", "50 x 30 mm die-cut thermal labels", 50.0, 30.0, 1.5),
    _roll("thermal-40x20", "40 x 20 mm die-cut thermal labels", 40.0, 20.0, 1.0),
)}


def names() -> list[str]:
    """Names of the built-in templates."""
    return sorted(_BUILTIN)


def get(name: str | Template) -> Template:
    """A built-in template by name (a Template passes through unchanged)."""
    if isinstance(name, Template):
        return name
    try:
        return _BUILTIN[name]
    except KeyError:
        raise LabelError(f"unknown label template {name!r}; built-in templates: {', '.join(names())}") from None


def load_toml(path: str | Path) -> Template:
    """A user-defined template from a TOML file (keys as in docs/labels.md); errors name the key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabelError(f"cannot read label template {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise LabelError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Template.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(template)'}: {err['msg']}" for err in exc.errors()
        )
        raise LabelError(f"{path}: invalid label template: {problems}") from None
