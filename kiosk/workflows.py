"""Workflows: small state machines per kiosk mode, driven by scans and screen input.

A scan is parsed first (bad check symbol or not a code: refused, nothing sent), then
looked up by (step, kind of code) in the mode's table of handlers; a kind the step does
not expect is refused on the spot with what it expects. Screen input is looked up the
same way by (step, action). Any step but idle returns to idle after ``timeout`` seconds
without input, dropping what was half done (nothing was sent for it yet).

Events go out through ``record(type, actor, data)`` (the agent's outbox); the workflow
never touches MQTT. Every text it returns for the screen is in the kiosk's language
(``kiosk.i18n``): tables hold ``N_`` marked English ids, translated when shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from contract import codes, normalize
from contract.codes import Kind
from contract.messages import Event, KioskConfig, VisitorSignin
from kiosk import vehicle_step
from kiosk.i18n import DEFAULT_LANGUAGE, N_, translations
from kiosk.outcome import Outcome, refused

Record = Callable[[str, "str | None", dict[str, Any]], Event]

IDLE = "idle"
PROMPTS = {
    "idle": N_("Scan the QR label of a person, an asset or a location"),
    "login": N_("Scan your own QR label to log in"),
    "person": N_("Scan the assets to check out, or a supply item"),
    "checkout": N_("Scan more assets, then press Finish"),
    "move": N_("Scan the assets to move here; press Finish when done"),
    "quantity": N_("Enter the quantity taken"),
    "gate_idle": N_("Scan a visitor pass (sign out) or an asset (exit permit check)"),
    "signin": N_("Scan the visitor pass or fill in the visitor's details"),
    "rollcall": N_("Roll call: everyone on site as this gate knows it"),
    "stocktake_number": N_("Enter the stocktake number"),
    "stocktake": N_("Stocktake: scan a location, then the assets seen there"),
    **vehicle_step.PROMPTS,
}
# What the person at the kiosk calls each kind of code.
KIND_NAMES = {
    Kind.ASSET: N_("asset"),
    Kind.LOCATION: N_("location"),
    Kind.SUPPLY: N_("supply item"),
    Kind.PERSON: N_("person"),
    Kind.VISITOR: N_("visitor pass"),
}
# Screen actions; those in BUTTONS are buttons, the others are forms with their own submit.
ACTION_LABELS = {
    "finish": N_("Finish"),
    "cancel": N_("Cancel"),
    "login": N_("Log in"),
    "logout": N_("Log out"),
    "signin": N_("Sign in a visitor"),
    "quantity": N_("Quantity"),
    "visitor": N_("Sign in"),
    "rollcall": N_("Roll call"),
    "stocktake": N_("Stocktake"),
    "stocktake_number": N_("Stocktake number"),
    **vehicle_step.ACTION_LABELS,
}
BUTTONS = ("finish", "cancel", "login", "logout", "signin", "rollcall", "stocktake", *vehicle_step.BUTTONS)
# The visitor form's fields (contract names), as the form and its error messages call them.
VISITOR_FIELDS = {
    "name": N_("Name"),
    "organisation": N_("Organisation"),
    "host": N_("Host"),
    "pass": N_("Visitor pass"),
    "purpose": N_("Purpose"),
    "id_last4": N_("ID number, last 4"),
    "plate": N_("Plate"),
}
# Why a field was refused, by pydantic error type or code reason; any other type is "invalid".
PROBLEMS = {
    "invalid": N_("invalid"),
    "missing": N_("required"),
    "string_too_short": N_("required"),
    "string_too_long": N_("too long"),
    "string_pattern_mismatch": N_("wrong format"),
    "bad_check": N_("check symbol wrong"),
    "bad_code": N_("not an AssetGate code"),
    "wrong_kind": N_("wrong kind of code"),
    "bad_plate": N_("not a plate"),
}


ScanHandler = Callable[[str], Outcome]
InputHandler = Callable[[dict[str, Any]], Outcome]


class Workflow:
    """Shared machinery; subclasses fill ``scans`` and ``inputs`` tables in ``_tables``."""

    mode = ""
    mode_name = ""  # what the screen calls the mode
    operator_role = ""  # who logs in at this kind of kiosk
    idle_step = IDLE

    def __init__(
        self,
        record: Record,
        *,
        location: str | None = None,
        timeout: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        language: str = DEFAULT_LANGUAGE,
    ) -> None:
        self.tr = translations(language)
        self._ = self.tr.gettext
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
        _ = self._
        try:
            code = codes.parse(text)
        except codes.CodeError as exc:
            title = _("Check symbol wrong: scan again") if exc.reason == "bad_check" else _("Not an AssetGate code")
            return refused(title, _("Scanned: {text}").format(text=text.strip()[:64]))
        handler = self.scans.get((self.step, code.kind))
        if handler is None:
            title = _("Not expected here: {kind}").format(kind=_(KIND_NAMES[code.kind]))
            wanted = self.expects()
            if not wanted:
                return refused(title, _("No scan is expected now"))
            return refused(title, _("Scan: {kinds}").format(kinds=self._list(_(KIND_NAMES[k]) for k in wanted)))
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
            return Outcome("info", self._("Cancelled"))
        handler = self.inputs.get((self.step, action))
        if handler is None:
            label = self._(ACTION_LABELS[action]) if action in ACTION_LABELS else action[:40]
            return refused(self._("“{action}” is not possible now").format(action=label))
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
        """The step as data (codes) and as the screen shows it (``*_label``, ``prompt``, ``buttons``)."""
        _ = self._
        actions = self.actions()
        return {
            "mode": self.mode,
            "mode_label": _(self.mode_name) if self.mode_name else self.mode,  # _("") is the catalogue header
            "step": self.step,
            "prompt": _(PROMPTS[self.step]) if self.step in PROMPTS else self.step,
            "expects": [k.name.lower() for k in self.expects()],
            "actions": actions,
            "buttons": [{"action": a, "label": _(ACTION_LABELS[a])} for a in actions if a in BUTTONS],
            "context": dict(self.ctx),
            "operator": self.actor,
            "operator_label": f"{_(self.operator_role)} {self._name(self.actor)}" if self.actor else "",
        }

    # -- helpers ------------------------------------------------------------------------

    def _go(self, step: str, **ctx: Any) -> None:
        self.step = step
        self.ctx = ctx

    def _emit(self, type_: str, data: dict[str, Any]) -> str:
        return str(self._record(type_, self.actor, data).id)

    def _saved(self, title: str, ids: list[str], detail: str = "") -> Outcome:
        # "Saved locally" until the server's ack replaces it on the screen.
        return Outcome("pending", title, detail or self._("Saved locally; waiting for the server"), ids)

    def _name(self, code: str) -> str:
        names = self.server_config.display_names if self.server_config else {}
        return self._("{name} ({code})").format(name=names[code], code=code) if code in names else code

    def _list(self, items: Any) -> str:
        return self._(", ").join(items)

    def _problem(self, field_name: str, error_type: str) -> str:
        label = self._(VISITOR_FIELDS[field_name]) if field_name in VISITOR_FIELDS else field_name
        problem = self._(PROBLEMS.get(error_type, PROBLEMS["invalid"]))
        return self._("{field}: {problem}").format(field=label, problem=problem)

    # -- operator login (both modes) ----------------------------------------------------

    def _start_login(self, data: dict[str, Any]) -> Outcome:
        self._go("login")
        return Outcome("info", self._("Scan your own QR label to log in"))

    def _login_badge(self, code: str) -> Outcome:
        self.actor = code
        self.reset()
        role = self._(self.operator_role)
        return Outcome("ok", self._("{role} {name} logged in").format(role=role, name=self._name(code)))

    def _logout(self, data: dict[str, Any]) -> Outcome:
        self.actor = None
        return Outcome("info", self._("Logged out"))


class StoreroomWorkflow(Workflow):
    mode = "storeroom"
    mode_name = N_("Storeroom")
    operator_role = N_("Storekeeper")

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
            ("stocktake", Kind.LOCATION): self._stocktake_place,
            ("stocktake", Kind.ASSET): self._stocktake_asset,
        }
        inputs: dict[tuple[str, str], InputHandler] = {
            ("checkout", "finish"): self._checkout_finish,
            ("move", "finish"): self._finish_idle,
            ("quantity", "quantity"): self._quantity,
            (IDLE, "stocktake"): self._stocktake_start,
            ("stocktake_number", "stocktake_number"): self._stocktake_number,
            ("stocktake", "finish"): self._finish_idle,
        }
        return scans, inputs

    def _person(self, code: str) -> Outcome:
        self._go("person", person=code)
        return Outcome("info", self._("For {name}").format(name=self._name(code)),
                       self._(PROMPTS["person"]))

    def _checkout_add(self, code: str) -> Outcome:
        assets: list[str] = self.ctx.setdefault("assets", [])
        if code in assets:
            return Outcome("warn", self._("{code} is already on the list").format(code=code))
        assets.append(code)
        self.step = "checkout"
        title = self.tr.ngettext("{n} asset to check out", "{n} assets to check out", len(assets))
        return Outcome("info", title.format(n=len(assets)), self._list(assets))

    def _checkout_finish(self, data: dict[str, Any]) -> Outcome:
        person, assets = self.ctx["person"], self.ctx.get("assets", [])
        ids = [self._emit("asset.checkout", {"tag": tag, "to": person}) for tag in assets]
        self.reset()
        title = self.tr.ngettext("{n} asset checked out to {name}", "{n} assets checked out to {name}", len(ids))
        return self._saved(title.format(n=len(ids), name=self._name(person)), ids)

    def _checkin(self, code: str) -> Outcome:
        data = {"tag": code} | ({"location": self.location} if self.location else {})
        title = self._("{name} checked in").format(name=self._name(code))
        return self._saved(title, [self._emit("asset.checkin", data)])

    def _move_to(self, code: str) -> Outcome:
        self._go("move", location=code, moved=self.ctx.get("moved", 0) if self.step == "move" else 0)
        return Outcome("info", self._("Moving assets to {location}").format(location=self._name(code)))

    def _move_asset(self, code: str) -> Outcome:
        event = self._emit("asset.move", {"tag": code, "to": self.ctx["location"]})
        self.ctx["moved"] = self.ctx.get("moved", 0) + 1
        title = self._("{name} moved to {location}").format(name=self._name(code),
                                                             location=self._name(self.ctx["location"]))
        return self._saved(title, [event])

    def _finish_idle(self, data: dict[str, Any]) -> Outcome:
        self.reset()
        return Outcome("info", self._("Done"))

    def _supply(self, code: str) -> Outcome:
        self._go("quantity", person=self.ctx["person"], item=code)
        return Outcome("info", self._("How many of {name}?").format(name=self._name(code)))

    def _quantity(self, data: dict[str, Any]) -> Outcome:
        try:
            qty = int(data.get("qty", ""))
        except (TypeError, ValueError):
            return refused(self._("Enter a whole number"))
        if not 1 <= qty <= 100_000:
            return refused(self._("The quantity must be between 1 and 100000"))
        item, person = self.ctx["item"], self.ctx["person"]
        payload = {"item": item, "qty": qty, "taker": person}
        if data.get("purpose"):
            payload["purpose"] = str(data["purpose"])[:200]
        event = self._emit("supply.pickup", payload)
        self.reset()
        title = self._("{qty} × {item} taken by {person}").format(qty=qty, item=self._name(item),
                                                                  person=self._name(person))
        return self._saved(title, [event])


    # -- stocktake: the number the office gave, then a location and the assets seen there ---------

    def _stocktake_start(self, data: dict[str, Any]) -> Outcome:
        self._go("stocktake_number")
        return Outcome("info", self._(PROMPTS["stocktake_number"]))

    def _stocktake_number(self, data: dict[str, Any]) -> Outcome:
        number = str(data.get("qty", data.get("number", ""))).strip()
        if not (number.isascii() and number.isdigit() and 1 <= len(number) <= 9 and int(number) > 0):
            return refused(self._("Enter the stocktake number, a whole number"))
        # The scan location starts as this kiosk's own place; scanning a location label changes it.
        self._go("stocktake", session=str(int(number)), location=self.location, counted=0)
        return Outcome("info", self._("Stocktake {number}").format(number=int(number)), self._(PROMPTS["stocktake"]))

    def _stocktake_place(self, code: str) -> Outcome:
        self.ctx["location"] = code
        return Outcome("info", self._("Counting at {location}").format(location=self._name(code)))

    def _stocktake_asset(self, code: str) -> Outcome:
        where = self.ctx.get("location")
        if not where:
            return refused(self._("Scan the location first"))
        event = self._emit("stocktake.scan", {"session": self.ctx["session"], "tag": code, "location": where})
        self.ctx["counted"] = self.ctx.get("counted", 0) + 1
        title = self._("{name} counted at {location}").format(name=self._name(code), location=self._name(where))
        return self._saved(title, [event])


class GateWorkflow(vehicle_step.VehicleStep, Workflow):
    mode = "gate"
    mode_name = N_("Gate")
    operator_role = N_("Guard")
    idle_step = "gate_idle"

    # Who is on site as this gate knows it (kiosk.onsite), for the roll call; the agent sets it.
    on_site: Callable[[], list[dict[str, Any]]] | None = None

    def _tables(self) -> tuple[dict[tuple[str, Kind], ScanHandler], dict[tuple[str, str], InputHandler]]:
        scans: dict[tuple[str, Kind], ScanHandler] = {
            ("gate_idle", Kind.VISITOR): self._signout,
            ("gate_idle", Kind.ASSET): self._exit,
            ("signin", Kind.VISITOR): self._signin_pass,
            ("signin", Kind.PERSON): self._signin_host,
        }
        inputs: dict[tuple[str, str], InputHandler] = {
            ("gate_idle", "signin"): self._start_signin,
            ("gate_idle", "rollcall"): self._roll_call,
            ("signin", "visitor"): self._signin_form,
        }
        vehicle_scans, vehicle_inputs = self.vehicle_tables()  # kiosk.vehicle_step
        return {**scans, **vehicle_scans}, {**inputs, **vehicle_inputs}

    def _roll_call(self, data: dict[str, Any]) -> Outcome:
        rows = self.on_site() if self.on_site else []
        self._go("rollcall")
        title = self.tr.ngettext("{n} person on site", "{n} people on site", len(rows)).format(n=len(rows))
        return Outcome("info", title, self._("Works without the server: this gate's list and its own scans"))

    def _watched(self, form: dict[str, Any]) -> bool:
        """The visitor's name or plate is on the watchlist (the config has only salted hashes of it)."""
        config = self.server_config
        if not config or not config.watchlist or not config.watchlist_salt:
            return False
        salt, listed = config.watchlist_salt, set(config.watchlist)
        forms = [("name", normalize.person_name(str(form.get("name", ""))))]
        if form.get("plate"):
            forms.append(("plate", str(form["plate"])))
        return any(value and normalize.watch_hash(salt, kind, value) in listed for kind, value in forms)

    def _signout(self, code: str) -> Outcome:
        title = self._("Visitor {name} signed out").format(name=self._name(code))
        return self._saved(title, [self._emit("visitor.signout", {"pass": code})])

    def _exit(self, code: str) -> Outcome:
        # The server decides (exit permit); until its ack the guard sees "saved locally".
        title = self._("Checking the exit permit for {name}").format(name=self._name(code))
        return self._saved(title, [self._emit("asset.exit", {"tag": code})])

    def _start_signin(self, data: dict[str, Any]) -> Outcome:
        self._go("signin")
        return Outcome("info", self._("Visitor sign-in"), self._("Scan the visitor pass, then fill in the form"))

    def _refused_pass(self, code: str) -> Outcome:
        return refused(self._("Visitor pass {code} is revoked").format(code=code),
                       self._("Issue another visitor pass"))

    def _revoked(self, code: str) -> bool:
        return bool(self.server_config and code in self.server_config.revoked_passes)

    def _signin_pass(self, code: str) -> Outcome:
        if self._revoked(code):
            return self._refused_pass(code)
        # KioskConfig allows extra keys; "expected_visitors" (pass -> signin data without "pass")
        # is read here when the server sends it, so this kiosk needs no newer contract.
        expected_all = getattr(self.server_config, "expected_visitors", None) or {}
        expected = expected_all.get(code) if isinstance(expected_all, dict) else None
        if expected:
            # A pre-registered pass: the server sent its details, so one scan signs the visitor in.
            return self._signin({**expected, "pass": code})
        self.ctx["pass"] = code
        return Outcome("info", self._("Visitor pass {code}").format(code=code),
                       self._("Fill in the visitor's details"))

    def _signin_host(self, code: str) -> Outcome:
        self.ctx["host"] = code
        return Outcome("info", self._("Host {name}").format(name=self._name(code)))

    def _signin_form(self, data: dict[str, Any]) -> Outcome:
        form = {k: v for k, v in data.items() if v not in (None, "")}
        form = {**{k: self.ctx[k] for k in ("pass", "host") if k in self.ctx}, **form}
        for key in ("pass", "host"):
            if key in form:
                try:
                    form[key] = codes.normalize(str(form[key]), Kind.VISITOR if key == "pass" else Kind.PERSON)
                except codes.CodeError as exc:
                    return refused(self._problem(key, exc.reason), str(form[key])[:64])
        if "pass" in form and self._revoked(form["pass"]):
            return self._refused_pass(form["pass"])
        return self._signin(form)

    def _signin(self, form: dict[str, Any]) -> Outcome:
        form = {**form, "name": str(form.get("name", "")).strip()} if "name" in form else form
        try:
            VisitorSignin.model_validate(form)
            if form.get("plate"):
                form = {**form, "plate": normalize.plate(str(form["plate"]))}
        except normalize.NormalizeError as exc:
            return refused(self._("Visitor details incomplete"), self._problem("plate", exc.reason))
        except ValidationError as exc:
            # Named by the form's labels, not pydantic's English messages.
            problems = [self._problem(str(e["loc"][0]) if e["loc"] else "", e["type"]) for e in exc.errors()[:3]]
            return refused(self._("Visitor details incomplete"), self._("; ").join(problems))
        watched = self._watched(form)
        # Recorded either way: the server refuses a watchlisted visitor and tells the office.
        event = self._emit("visitor.signin", form)
        self.reset()
        if watched:
            return Outcome("error", self._("On the watchlist: do not let the visitor in yet"),
                           self._("Follow the watchlist procedure and tell the office"), [event])
        return self._saved(self._("Visitor {name} signed in").format(name=form["name"]), [event])


WORKFLOWS: dict[str, type[Workflow]] = {"storeroom": StoreroomWorkflow, "gate": GateWorkflow}


def make_workflow(mode: str, record: Record, **kwargs: Any) -> Workflow:
    return WORKFLOWS[mode](record, **kwargs)
