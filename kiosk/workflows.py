"""Workflows: small state machines per kiosk mode, driven by scans and screen input.

A scan is parsed first (bad check symbol or not a code: refused, nothing sent), then
looked up by (step, kind of code) in the mode's table of handlers; a kind the step does
not expect is refused on the spot with what it expects. Screen input is looked up the
same way by (step, action). Any step but idle returns to idle after ``timeout`` seconds
without input, dropping what was half done (nothing was sent for it yet).

Events go out through ``record(type, actor, data)`` (the agent's outbox); the workflow
never touches MQTT.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from contract import codes
from contract.codes import Kind
from contract.messages import Event, KioskConfig, VisitorSignin

Record = Callable[[str, "str | None", dict[str, Any]], Event]

IDLE = "idle"
PROMPTS = {
    "idle": "Scan a badge, asset or location",
    "login": "Scan the operator's badge",
    "person": "Scan assets to check out, or a supply item",
    "checkout": "Scan more assets, then press Finish",
    "move": "Scan assets to move here; Finish when done",
    "quantity": "Enter the quantity taken",
    "gate_idle": "Scan a visitor pass (sign-out) or an asset (exit check)",
    "signin": "Scan the visitor's pass or fill in the form",
}


@dataclass
class Outcome:
    """What the screen shows after one input: level ok|warn|error|info, and the events made."""

    level: str
    title: str
    detail: str = ""
    events: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "title": self.title, "detail": self.detail, "events": list(self.events)}


def refused(title: str, detail: str = "") -> Outcome:
    return Outcome("error", title, detail)


ScanHandler = Callable[[str], Outcome]
InputHandler = Callable[[dict[str, Any]], Outcome]


class Workflow:
    """Shared machinery; subclasses fill ``scans`` and ``inputs`` tables in ``_tables``."""

    mode = ""
    idle_step = IDLE

    def __init__(
        self,
        record: Record,
        *,
        location: str | None = None,
        timeout: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._record = record
        self.location = location
        self.timeout = timeout
        self._clock = clock
        self.actor: str | None = None  # the logged-in operator's P- code
        self.server_config: KioskConfig | None = None
        self.step = self.idle_step
        self.ctx: dict[str, Any] = {}
        self._touched = clock()
        common_scans: dict[tuple[str, Kind], ScanHandler] = {("login", Kind.PERSON): self._login_badge}
        common_inputs: dict[tuple[str, str], InputHandler] = {
            (self.idle_step, "login"): self._start_login,
            (self.idle_step, "logout"): self._logout,
        }
        scans, inputs = self._tables()
        self.scans = {**common_scans, **scans}
        self.inputs = {**common_inputs, **inputs}

    def _tables(self) -> tuple[dict[tuple[str, Kind], ScanHandler], dict[tuple[str, str], InputHandler]]:
        raise NotImplementedError

    # -- entry points -------------------------------------------------------------------

    def scan(self, text: str) -> Outcome:
        """One scanned (or typed) text."""
        self.tick()
        try:
            code = codes.parse(text)
        except codes.CodeError as exc:
            title = "Check symbol wrong: scan again" if exc.reason == "bad_check" else "Not an AssetGate code"
            return refused(title, str(exc))
        handler = self.scans.get((self.step, code.kind))
        if handler is None:
            wanted = ", ".join(k.name.lower() for k in self.expects()) or "no scan"
            return refused(f"A {code.kind.name.lower()} code is not expected here", f"Expected: {wanted}")
        self._touched = self._clock()
        return handler(str(code))

    def input(self, action: str, data: dict[str, Any] | None = None) -> Outcome:
        """One screen action (button, form, typed code)."""
        self.tick()
        data = data or {}
        if action == "code":
            return self.scan(str(data.get("code", "")))
        if action == "cancel":
            self.reset()
            return Outcome("info", "Cancelled")
        handler = self.inputs.get((self.step, action))
        if handler is None:
            return refused(f"'{action}' is not possible now")
        self._touched = self._clock()
        return handler(data)

    def tick(self) -> bool:
        """Return to idle after the timeout; True when it did."""
        if self.step != self.idle_step and self._clock() - self._touched > self.timeout:
            self.reset()
            return True
        return False

    def reset(self) -> None:
        self.step = self.idle_step
        self.ctx = {}
        self._touched = self._clock()

    def expects(self) -> list[Kind]:
        return [kind for (step, kind) in self.scans if step == self.step]

    def actions(self) -> list[str]:
        acts = [action for (step, action) in self.inputs if step == self.step]
        return acts + (["cancel"] if self.step != self.idle_step else [])

    def view(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "step": self.step,
            "prompt": PROMPTS.get(self.step, self.step),
            "expects": [k.name.lower() for k in self.expects()],
            "actions": self.actions(),
            "context": dict(self.ctx),
            "operator": self.actor,
        }

    # -- helpers ------------------------------------------------------------------------

    def _go(self, step: str, **ctx: Any) -> None:
        self.step = step
        self.ctx = ctx

    def _emit(self, type_: str, data: dict[str, Any]) -> str:
        return str(self._record(type_, self.actor, data).id)

    def _saved(self, title: str, ids: list[str], detail: str = "") -> Outcome:
        # "Saved locally" until the server's ack replaces it on the screen.
        return Outcome("pending", title, detail or "saved locally", ids)

    def _name(self, code: str) -> str:
        names = self.server_config.display_names if self.server_config else {}
        return f"{names[code]} ({code})" if code in names else code

    # -- operator login (both modes) ----------------------------------------------------

    def _start_login(self, data: dict[str, Any]) -> Outcome:
        self._go("login")
        return Outcome("info", "Scan your badge to log in")

    def _login_badge(self, code: str) -> Outcome:
        self.actor = code
        self.reset()
        return Outcome("ok", f"Operator {self._name(code)} logged in")

    def _logout(self, data: dict[str, Any]) -> Outcome:
        self.actor = None
        return Outcome("info", "Operator logged out")


class StoreroomWorkflow(Workflow):
    mode = "storeroom"

    def _tables(self) -> tuple[dict[tuple[str, Kind], ScanHandler], dict[tuple[str, str], InputHandler]]:
        scans: dict[tuple[str, Kind], ScanHandler] = {
            (IDLE, Kind.PERSON): self._person,
            (IDLE, Kind.ASSET): self._checkin,
            (IDLE, Kind.LOCATION): self._move_to,
            ("person", Kind.PERSON): self._person,
            ("person", Kind.ASSET): self._checkout_add,
            ("person", Kind.SUPPLY): self._supply,
            ("checkout", Kind.ASSET): self._checkout_add,
            ("move", Kind.ASSET): self._move_asset,
            ("move", Kind.LOCATION): self._move_to,
            ("quantity", Kind.SUPPLY): self._supply,
        }
        inputs: dict[tuple[str, str], InputHandler] = {
            ("checkout", "finish"): self._checkout_finish,
            ("move", "finish"): self._finish_idle,
            ("quantity", "quantity"): self._quantity,
        }
        return scans, inputs

    def _person(self, code: str) -> Outcome:
        self._go("person", person=code)
        return Outcome("info", f"For {self._name(code)}", "Scan assets to check out, or a supply item")

    def _checkout_add(self, code: str) -> Outcome:
        assets: list[str] = self.ctx.setdefault("assets", [])
        if code in assets:
            return Outcome("warn", f"{code} is already on the list")
        assets.append(code)
        self.step = "checkout"
        return Outcome("info", f"{len(assets)} asset(s) to check out", ", ".join(assets))

    def _checkout_finish(self, data: dict[str, Any]) -> Outcome:
        person, assets = self.ctx["person"], self.ctx.get("assets", [])
        ids = [self._emit("asset.checkout", {"tag": tag, "to": person}) for tag in assets]
        self.reset()
        return self._saved(f"{len(ids)} asset(s) checked out to {self._name(person)}", ids)

    def _checkin(self, code: str) -> Outcome:
        data = {"tag": code} | ({"location": self.location} if self.location else {})
        return self._saved(f"{self._name(code)} checked in", [self._emit("asset.checkin", data)])

    def _move_to(self, code: str) -> Outcome:
        self._go("move", location=code, moved=self.ctx.get("moved", 0) if self.step == "move" else 0)
        return Outcome("info", f"Moving assets to {self._name(code)}")

    def _move_asset(self, code: str) -> Outcome:
        event = self._emit("asset.move", {"tag": code, "to": self.ctx["location"]})
        self.ctx["moved"] = self.ctx.get("moved", 0) + 1
        return self._saved(f"{self._name(code)} moved to {self._name(self.ctx['location'])}", [event])

    def _finish_idle(self, data: dict[str, Any]) -> Outcome:
        self.reset()
        return Outcome("info", "Done")

    def _supply(self, code: str) -> Outcome:
        self._go("quantity", person=self.ctx["person"], item=code)
        return Outcome("info", f"How many of {self._name(code)}?")

    def _quantity(self, data: dict[str, Any]) -> Outcome:
        try:
            qty = int(data.get("qty", ""))
        except (TypeError, ValueError):
            return refused("Enter a whole number")
        if not 1 <= qty <= 100_000:
            return refused("Quantity must be between 1 and 100000")
        item, person = self.ctx["item"], self.ctx["person"]
        payload = {"item": item, "qty": qty, "taker": person}
        if data.get("purpose"):
            payload["purpose"] = str(data["purpose"])[:200]
        event = self._emit("supply.pickup", payload)
        self.reset()
        return self._saved(f"{qty} × {self._name(item)} taken by {self._name(person)}", [event])


class GateWorkflow(Workflow):
    mode = "gate"
    idle_step = "gate_idle"

    def _tables(self) -> tuple[dict[tuple[str, Kind], ScanHandler], dict[tuple[str, str], InputHandler]]:
        scans: dict[tuple[str, Kind], ScanHandler] = {
            ("gate_idle", Kind.VISITOR): self._signout,
            ("gate_idle", Kind.ASSET): self._exit,
            ("signin", Kind.VISITOR): self._signin_pass,
            ("signin", Kind.PERSON): self._signin_host,
        }
        inputs: dict[tuple[str, str], InputHandler] = {
            ("gate_idle", "signin"): self._start_signin,
            ("signin", "visitor"): self._signin_form,
        }
        return scans, inputs

    def _signout(self, code: str) -> Outcome:
        return self._saved(f"Visitor {self._name(code)} signed out", [self._emit("visitor.signout", {"pass": code})])

    def _exit(self, code: str) -> Outcome:
        # The server decides (exit permit); until its ack the guard sees "saved locally".
        return self._saved(f"Exit check for {self._name(code)}", [self._emit("asset.exit", {"tag": code})])

    def _start_signin(self, data: dict[str, Any]) -> Outcome:
        self._go("signin")
        return Outcome("info", "Visitor sign-in", "Scan the pass, then fill in the form")

    def _revoked(self, code: str) -> bool:
        return bool(self.server_config and code in self.server_config.revoked_passes)

    def _signin_pass(self, code: str) -> Outcome:
        if self._revoked(code):
            return refused(f"Pass {code} is revoked", "Issue another pass")
        # KioskConfig allows extra keys; "expected_visitors" (pass -> signin data without "pass")
        # is read here when the server sends it, so this kiosk needs no newer contract.
        expected_all = getattr(self.server_config, "expected_visitors", None) or {}
        expected = expected_all.get(code) if isinstance(expected_all, dict) else None
        if expected:
            # A pre-registered pass: the server sent its details, so one scan signs the visitor in.
            return self._signin({**expected, "pass": code})
        self.ctx["pass"] = code
        return Outcome("info", f"Pass {code}", "Fill in the visitor's details")

    def _signin_host(self, code: str) -> Outcome:
        self.ctx["host"] = code
        return Outcome("info", f"Host {self._name(code)}")

    def _signin_form(self, data: dict[str, Any]) -> Outcome:
        form = {k: v for k, v in data.items() if v not in (None, "")}
        form = {**{k: self.ctx[k] for k in ("pass", "host") if k in self.ctx}, **form}
        for key in ("pass", "host"):
            if key in form:
                try:
                    form[key] = codes.normalize(str(form[key]), Kind.VISITOR if key == "pass" else Kind.PERSON)
                except codes.CodeError as exc:
                    return refused(f"{key}: {exc}")
        if "pass" in form and self._revoked(form["pass"]):
            return refused(f"Pass {form['pass']} is revoked", "Issue another pass")
        return self._signin(form)

    def _signin(self, form: dict[str, Any]) -> Outcome:
        try:
            VisitorSignin.model_validate(form)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
            return refused("Visitor details incomplete", problems)
        event = self._emit("visitor.signin", form)
        self.reset()
        return self._saved(f"Visitor {form['name']} signed in", [event])


WORKFLOWS: dict[str, type[Workflow]] = {"storeroom": StoreroomWorkflow, "gate": GateWorkflow}


def make_workflow(mode: str, record: Record, **kwargs: Any) -> Workflow:
    return WORKFLOWS[mode](record, **kwargs)
