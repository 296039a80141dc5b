"""The kiosk screen's page, script and style, kept in Python so the wheel always carries them.

No external assets (fonts, CDNs): the page must work with the network down. Every text a person
reads is translated here, in Python (``render``): the page's own labels are filled in, and the few
the script needs come in a JSON data block (not run as script, so the Content-Security-Policy
holds). Texts that change with the state (prompt, buttons, results) arrive in ``/state.json``,
already translated. The script itself holds no words.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape

from kiosk import vehicle_step
from kiosk.i18n import HTML_LANG, N_, translations
from kiosk.workflows import ACTION_LABELS, VISITOR_FIELDS

# Texts the script needs: the banner when the agent does not answer, and the keypad's keys.
SCRIPT_TEXTS = {
    "not_responding": N_("The kiosk agent is not responding"),
    "clear": N_("Clear"),
    "ok": N_("OK"),
    # the roll call's columns
    "name": N_("Name"),
    "organisation": N_("Organisation"),
    "host_name": N_("Host"),
    "plate": N_("Plate"),
    "since": N_("Since"),
}
PAGE_TEXTS = {
    "title": N_("AssetGate kiosk"),
    "starting": N_("Starting…"),
    "type_code": N_("Type a code"),
    "enter": N_("Enter"),
}
# The visitor form: (contract field, what the field takes, HTML attributes).
VISITOR_FORM = (
    ("name", "", 'required maxlength="200"'),
    ("organisation", "", 'maxlength="200"'),
    ("host", "P-…", "required"),
    ("pass", "V-…", ""),
    ("purpose", "", 'maxlength="200"'),
    ("id_last4", "", 'maxlength="4"'),
    ("plate", "", 'maxlength="16"'),
)

# The vehicle form: (contract field, HTML attributes); the odometer with the numeric keyboard.
VEHICLE_FORM = (
    ("plate", 'maxlength="32" autocomplete="off"'),
    ("odometer", 'inputmode="numeric" pattern="[0-9]*" maxlength="7" autocomplete="off"'),
)

HTML = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="kiosk-token" content="{token}">
<title>{title} {kiosk}</title>
<link rel="stylesheet" href="/app.css">
<script type="application/json" id="texts">{texts}</script></head>
<body>
<div id="banner" class="banner" hidden></div>
<header><span id="kiosk">{kiosk}</span> <span id="mode"></span> <span id="operator"></span>
  <span id="outbox" class="outbox"></span></header>
<main>
  <h1 id="prompt">{starting}</h1>
  <section id="result" class="result info"><div id="title"></div><div id="detail"></div></section>
  <section id="quantity" hidden>
    <input id="qty" inputmode="numeric" pattern="[0-9]*" autocomplete="off">
    <div class="keys"></div>
  </section>
  <form id="visitor" hidden>
{fields}
    <button type="submit" class="big">{sign_in}</button>
  </form>
  <form id="vehicle" hidden>
{vehicle_fields}
    <button type="submit" class="big">{record}</button>
  </form>
  <table id="rollcall" class="rollcall" hidden><thead><tr></tr></thead><tbody></tbody></table>
  <div id="actions" class="actions"></div>
  <form id="typed" class="typed"><input id="code" placeholder="{type_code}" autocomplete="off">
    <button type="submit">{enter}</button></form>
</main>
<script src="/app.js"></script>
</body></html>
"""


def render(token: str, kiosk: str, language: str) -> str:
    """The page in a language of ``kiosk.i18n.LANGUAGES``, every text escaped for HTML."""
    _ = translations(language).gettext
    texts = {key: _(text) for key, text in SCRIPT_TEXTS.items()}
    return HTML.format(
        lang=HTML_LANG[language],
        token=escape(token),
        kiosk=escape(kiosk),
        texts=_json_for_html(texts),
        fields="\n".join(_field(name, hint, attrs, _) for name, hint, attrs in VISITOR_FORM),
        sign_in=escape(_(ACTION_LABELS["visitor"])),
        vehicle_fields="\n".join(f'    <label>{escape(_(vehicle_step.FIELDS[name]))} <input name="{name}" '
                                  f'{attrs}></label>' for name, attrs in VEHICLE_FORM),
        record=escape(_(ACTION_LABELS["vehicle"])),
        **{key: escape(_(text)) for key, text in PAGE_TEXTS.items()},
    )


def _field(name: str, hint: str, attrs: str, _: Callable[[str], str]) -> str:
    label = _(VISITOR_FIELDS[name])
    if hint:
        label = _("{field} ({hint})").format(field=label, hint=hint)
    return f'    <label>{escape(label)} <input name="{name}"{" " + attrs if attrs else ""}></label>'


def _json_for_html(obj: object) -> str:
    # Inside <script> only "</" could end the element early; escaping <, > and & rules it out.
    text = json.dumps(obj, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


CSS = """
* { box-sizing: border-box; }
body { margin: 0; font: 28px/1.3 system-ui, "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif;
  background: #f4f4f4; color: #111; }
header { display: flex; gap: 1em; padding: .4em .8em; background: #223; color: #fff; font-size: 22px; }
.outbox { margin-left: auto; }
.banner { background: #b00; color: #fff; padding: .5em; text-align: center; font-weight: bold; }
main { padding: .5em 1em; }
h1 { font-size: 44px; margin: .3em 0; }
.result { border-radius: 12px; padding: .6em .8em; margin: .5em 0; min-height: 3.2em; }
.result #title { font-size: 38px; font-weight: bold; }
.ok { background: #1b7f2a; color: #fff; } .warn { background: #e0a000; color: #111; }
.error { background: #c00; color: #fff; } .pending { background: #e0a000; color: #111; }
.info { background: #dde; color: #111; }
button { font-size: 30px; min-height: 80px; min-width: 160px; margin: .2em; border-radius: 12px;
  border: 0; background: #335; color: #fff; }
.keys button { min-width: 110px; }
input { font-size: 30px; padding: .3em; width: 100%; }
label { display: block; margin: .2em 0; }
.typed { display: flex; gap: .5em; margin-top: 1em; } .typed input { flex: 1; }
.rollcall { width: 100%; border-collapse: collapse; font-size: 24px; background: #fff; }
.rollcall th, .rollcall td { border-bottom: 1px solid #ccc; padding: .2em .4em; text-align: left; }
"""

# No words in here: labels come from the page's texts block and from /state.json.
JS = """
'use strict';
const token = document.querySelector('meta[name=kiosk-token]').content;
const $ = (id) => document.getElementById(id);
const texts = JSON.parse($('texts').textContent);
let step = '';  // the current step: the keypad OK button answers the step it is shown for

async function send(action, data) {
  const r = await fetch('/input', {method: 'POST', headers: {'Content-Type': 'application/json',
    'X-Kiosk-Token': token}, body: JSON.stringify({action: action, data: data || {}})});
  render(await r.json());
}

function render(s) {
  if (!s.view) return;
  $('mode').textContent = s.view.mode_label;
  $('operator').textContent = s.view.operator_label;
  $('prompt').textContent = s.view.prompt;
  $('outbox').textContent = s.outbox_label;
  const b = $('banner');
  b.hidden = !s.offline; b.textContent = s.offline || '';
  const last = s.last || {level: 'info', title: '', detail: ''};
  $('result').className = 'result ' + last.level;
  $('title').textContent = last.title; $('detail').textContent = last.detail;
  step = s.view.step;
  $('quantity').hidden = step !== 'quantity' && step !== 'stocktake_number';
  $('visitor').hidden = s.view.step !== 'signin';
  $('vehicle').hidden = s.view.step !== 'vehicle';
  renderRollCall(s.roll_call);
  const acts = $('actions'); acts.replaceChildren();
  for (const button of s.view.buttons) {
    const btn = document.createElement('button'); btn.textContent = button.label;
    btn.onclick = () => send(button.action); acts.appendChild(btn);
  }
}

const ROLL = ['name', 'organisation', 'host_name', 'plate', 'since'];
function renderRollCall(rows) {
  const table = $('rollcall');
  table.hidden = !rows;
  if (!rows) return;
  const head = table.tHead.rows[0]; head.replaceChildren();
  for (const key of ROLL) {
    const th = document.createElement('th'); th.textContent = texts[key]; head.appendChild(th);
  }
  const body = table.tBodies[0]; body.replaceChildren();
  for (const row of rows) {
    const tr = document.createElement('tr');
    for (const key of ROLL) {
      const td = document.createElement('td');
      if (key === 'since') {
        td.textContent = row.since ? new Date(row.since).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'})
          : '';
      } else {
        td.textContent = row[key] || (key === 'host_name' ? row.host || '' : '');
      }
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

async function poll() {
  try { render(await (await fetch('/state.json', {cache: 'no-store'})).json()); }
  catch (e) { $('banner').hidden = false; $('banner').textContent = texts.not_responding; }
  setTimeout(poll, 500);
}

const keys = document.querySelector('.keys');
for (const k of ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'clear', '0', 'ok']) {
  const btn = document.createElement('button'); btn.textContent = texts[k] || k; btn.type = 'button';
  btn.onclick = () => {
    const q = $('qty');
    if (k === 'clear') q.value = '';
    else if (k === 'ok') { send(step === 'stocktake_number' ? step : 'quantity', {qty: q.value}); q.value = ''; }
    else q.value += k;
  };
  keys.appendChild(btn);
}
$('visitor').onsubmit = (e) => {
  e.preventDefault();
  send('visitor', Object.fromEntries(new FormData(e.target).entries()));
  e.target.reset();
};
$('vehicle').onsubmit = (e) => {
  e.preventDefault();
  send('vehicle', Object.fromEntries(new FormData(e.target).entries()));
  e.target.reset();
};
$('typed').onsubmit = (e) => { e.preventDefault(); send('code', {code: $('code').value}); $('code').value = ''; };
poll();
"""
