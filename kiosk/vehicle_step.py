"""The gate kiosk's vehicle step: a vehicle out or in (PROTOCOL.md ``vehicle.out`` / ``vehicle.in``).

From the gate's idle step, **Vehicle out** or **Vehicle in** opens the step. The guard scans the key tag
or windscreen label of an official vehicle (A-), or a visitor's pass (V-), or types the plate; then
enters the odometer and records it. What the kiosk checks on the spot, before anything is recorded:

* the plate has a normal form (``contract.normalize.plate``), and with a scanned tag it is that
  vehicle's plate as the server's config says (the wrong key was picked up otherwise);
* an official vehicle has an odometer reading, a whole number of km;
* while the server cannot be reached, an official vehicle that this gate knows (``KioskConfig.vehicles``)
  leaves only if one of its dispatches of the config (``KioskConfig.dispatches``) covers now.

Then the event goes to the outbox like every other step's, and the server decides (``no_dispatch``,
``bad_odometer``, ``plate_mismatch``: the ack turns the screen red). A typed plate of an official
vehicle is sent with its tag, so the server judges it as the official vehicle it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from contract import normalize
from contract.codes import Kind
from contract.messages import ODOMETER_MAX, VehicleIn, VehicleOut
from kiosk.i18n import N_
from kiosk.outcome import Outcome, refused

if TYPE_CHECKING:
    from kiosk.workflows import Workflow as _Base
else:
    _Base = object

STEP = "vehicle"
PROMPTS = {STEP: N_("Scan the vehicle's key tag or a visitor pass, or type the plate; then enter the odometer")}
ACTION_LABELS = {"vehicle_out": N_("Vehicle out"), "vehicle_in": N_("Vehicle in"), "vehicle": N_("Record")}
BUTTONS = ("vehicle_out", "vehicle_in")
# The vehicle form's fields (contract names) as the form and its messages call them.
FIELDS = {"plate": N_("Plate"), "odometer": N_("Odometer (km)")}
DIRECTIONS = {"out": N_("Vehicle {plate} out"), "in": N_("Vehicle {plate} in")}

Handler = Callable[..., Outcome]


class VehicleStep(_Base):
    """The vehicle step's handlers, mixed into ``GateWorkflow``."""

    # Whether the server can be reached now (the agent sets it); unknown counts as reachable.
    online: Callable[[], bool] | None = None

    def vehicle_tables(self) -> tuple[dict[tuple[str, Kind], Handler], dict[tuple[str, str], Handler]]:
        scans: dict[tuple[str, Kind], Handler] = {(STEP, Kind.ASSET): self._vehicle_tag,
                                                  (STEP, Kind.VISITOR): self._vehicle_pass}
        inputs: dict[tuple[str, str], Handler] = {
            (self.idle_step, "vehicle_out"): lambda data: self._start_vehicle("out"),
            (self.idle_step, "vehicle_in"): lambda data: self._start_vehicle("in"),
            (STEP, "vehicle"): self._vehicle_form,
        }
        return scans, inputs

    # -- what the server's config says --------------------------------------------------

    def _plate_of(self, tag: str) -> str | None:
        return self.server_config.vehicles.get(tag) if self.server_config else None

    def _tag_of(self, plate: str) -> str | None:
        fleet = self.server_config.vehicles if self.server_config else {}
        return next((tag for tag, known in fleet.items() if known == plate), None)

    def _covering(self, tag: str, now: datetime) -> str | None:
        """The end (local HH:MM) of a dispatch of the config that covers ``now``, or None."""
        windows = self.server_config.dispatches.get(tag, []) if self.server_config else []
        for window in windows:
            try:
                start, end = (datetime.fromisoformat(text) for text in window[:2])
            except (ValueError, TypeError):
                continue  # a window this kiosk cannot read: the server judges anyway
            if start <= now < end:
                return end.astimezone().strftime("%H:%M")
        return None

    def _reachable(self) -> bool:
        return self.online() if self.online is not None else True

    # -- the step -----------------------------------------------------------------------

    def _start_vehicle(self, direction: str) -> Outcome:
        self._go(STEP, direction=direction)
        return Outcome("info", self._(ACTION_LABELS[f"vehicle_{direction}"]), self._(PROMPTS[STEP]))

    def _vehicle_tag(self, code: str) -> Outcome:
        self.ctx = {"direction": self.ctx.get("direction", "out"), "tag": code}
        plate = self._plate_of(code)
        if plate is None:
            return Outcome("info", self._("Vehicle {code}").format(code=code), self._("Type its plate"))
        self.ctx["plate"] = plate
        return Outcome("info", self._("Official vehicle {plate}").format(plate=plate),
                       self._("Enter the odometer reading"))

    def _vehicle_pass(self, code: str) -> Outcome:
        self.ctx = {"direction": self.ctx.get("direction", "out"), "pass": code}
        return Outcome("info", self._("Visitor's vehicle, pass {code}").format(code=code), self._("Type its plate"))

    def _vehicle_problem(self, field: str, problem: str) -> Outcome:
        text = self._("{field}: {problem}").format(field=self._(FIELDS[field]), problem=self._(problem))
        return refused(self._("Vehicle details incomplete"), text)

    def _vehicle_form(self, data: dict[str, Any]) -> Outcome:
        direction, tag, pass_code = self.ctx.get("direction", "out"), self.ctx.get("tag"), self.ctx.get("pass")
        typed = str(data.get("plate") or "").strip()
        if not typed and not self.ctx.get("plate"):
            return self._vehicle_problem("plate", N_("required"))
        try:
            plate = normalize.plate(typed or self.ctx["plate"])
        except normalize.NormalizeError:
            return self._vehicle_problem("plate", N_("not a plate"))
        if tag is None and pass_code is None:
            tag = self._tag_of(plate)  # an official vehicle typed by its plate
        known = self._plate_of(tag) if tag else None
        if known is not None and plate != known:
            return refused(self._("The plate is not that of the scanned key tag"),
                           self._("The tag is the key of {plate}").format(plate=known))
        km = self._odometer(data.get("odometer"), official=tag is not None)
        if isinstance(km, Outcome):
            return km
        until = self._covering(tag, datetime.now(UTC)) if tag else None
        if direction == "out" and known is not None and until is None and not self._reachable():
            return refused(self._("No dispatch for {plate} now: do not let it out").format(plate=plate),
                           self._("The server cannot be reached; this gate knows no dispatch covering now"))
        payload: dict[str, Any] = {"plate": plate, **({"tag": tag} if tag else {}),
                                   **({"pass": pass_code} if pass_code else {}), **({"odometer": km} if km is not None
                                                                                   else {})}
        try:
            (VehicleOut if direction == "out" else VehicleIn).model_validate(payload)
        except ValidationError:
            return self._vehicle_problem("plate", N_("invalid"))
        event = self._emit(f"vehicle.{direction}", payload)
        self.reset()
        title = self._(DIRECTIONS[direction]).format(plate=plate)
        if until is not None and direction == "out":
            return self._saved(title, [event], self._("Dispatch until {time}; waiting for the server").format(
                time=until))
        return self._saved(title, [event])

    def _odometer(self, raw: Any, official: bool) -> int | None | Outcome:
        text = str(raw if raw is not None else "").strip()
        if not text:
            return self._vehicle_problem("odometer", N_("required")) if official else None
        if not (text.isascii() and text.isdigit()) or int(text) > ODOMETER_MAX:
            return self._vehicle_problem("odometer", N_("whole km, at most 7 digits"))
        return int(text)
