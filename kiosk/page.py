"""The kiosk screen's page, script and style, kept in Python so the wheel always carries them.

No external assets (fonts, CDNs): the page must work with the network down.
"""

HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="kiosk-token" content="{token}">
<title>AssetGate kiosk {kiosk}</title>
<link rel="stylesheet" href="/app.css"></head>
<body>
<div id="banner" class="banner" hidden></div>
<header><span id="kiosk">{kiosk}</span> <span id="mode"></span> <span id="operator"></span>
  <span id="outbox" class="outbox"></span></header>
<main>
  <h1 id="prompt">Starting…</h1>
  <section id="result" class="result info"><div id="title"></div><div id="detail"></div></section>
  <section id="quantity" hidden>
    <input id="qty" inputmode="numeric" pattern="[0-9]*" autocomplete="off">
    <div class="keys"></div>
  </section>
  <form id="visitor" hidden>
    <label>Name <input name="name" required maxlength="200"></label>
    <label>Organisation <input name="organisation" maxlength="200"></label>
    <label>Host badge (P-…) <input name="host" required></label>
    <label>Pass (V-…) <input name="pass"></label>
    <label>Purpose <input name="purpose" maxlength="200"></label>
    <label>ID last 4 <input name="id_last4" maxlength="4"></label>
    <label>Plate <input name="plate" maxlength="16"></label>
    <button type="submit" class="big">Sign in</button>
  </form>
  <div id="actions" class="actions"></div>
  <form id="typed" class="typed"><input id="code" placeholder="Type a code" autocomplete="off">
    <button type="submit">Enter</button></form>
</main>
<script src="/app.js"></script>
</body></html>
"""

CSS = """
* { box-sizing: border-box; }
body { margin: 0; font: 28px/1.3 system-ui, sans-serif; background: #f4f4f4; color: #111; }
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
"""

JS = """
'use strict';
const token = document.querySelector('meta[name=kiosk-token]').content;
const $ = (id) => document.getElementById(id);
const LABELS = {finish: 'Finish', cancel: 'Cancel', login: 'Operator login', logout: 'Log out',
  signin: 'Sign in visitor', quantity: null, visitor: null};

async function send(action, data) {
  const r = await fetch('/input', {method: 'POST', headers: {'Content-Type': 'application/json',
    'X-Kiosk-Token': token}, body: JSON.stringify({action: action, data: data || {}})});
  render(await r.json());
}

function render(s) {
  if (!s.view) return;
  $('mode').textContent = s.view.mode;
  $('operator').textContent = s.view.operator ? 'operator ' + s.view.operator : '';
  $('prompt').textContent = s.view.prompt;
  $('outbox').textContent = 'outbox ' + s.outbox.depth;
  const b = $('banner');
  b.hidden = !s.offline; b.textContent = s.offline || '';
  const last = s.last || {level: 'info', title: '', detail: ''};
  $('result').className = 'result ' + last.level;
  $('title').textContent = last.title; $('detail').textContent = last.detail;
  $('quantity').hidden = s.view.step !== 'quantity';
  $('visitor').hidden = s.view.step !== 'signin';
  const acts = $('actions'); acts.replaceChildren();
  for (const a of s.view.actions) {
    if (!LABELS[a]) continue;
    const btn = document.createElement('button'); btn.textContent = LABELS[a];
    btn.onclick = () => send(a); acts.appendChild(btn);
  }
}

async function poll() {
  try { render(await (await fetch('/state.json', {cache: 'no-store'})).json()); }
  catch (e) { $('banner').hidden = false; $('banner').textContent = 'kiosk agent not responding'; }
  setTimeout(poll, 500);
}

const keys = document.querySelector('.keys');
for (const k of ['1','2','3','4','5','6','7','8','9','C','0','OK']) {
  const btn = document.createElement('button'); btn.textContent = k; btn.type = 'button';
  btn.onclick = () => {
    const q = $('qty');
    if (k === 'C') q.value = ''; else if (k === 'OK') { send('quantity', {qty: q.value}); q.value = ''; }
    else q.value += k;
  };
  keys.appendChild(btn);
}
$('visitor').onsubmit = (e) => {
  e.preventDefault();
  send('visitor', Object.fromEntries(new FormData(e.target).entries()));
  e.target.reset();
};
$('typed').onsubmit = (e) => { e.preventDefault(); send('code', {code: $('code').value}); $('code').value = ''; };
poll();
"""
