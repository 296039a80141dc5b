"""The local screen: state as JSON, input only from our own page (token, Origin, Host, JSON)."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from kiosk_support import Responder, wait_for

from contract.codes import Kind, new_code
from kiosk import page
from kiosk.agent import Agent
from kiosk.config import AgentConfig

pytestmark = pytest.mark.broker


@pytest.fixture
def agent(make_config: Callable[..., AgentConfig]) -> Iterator[Agent]:
    agent = Agent(make_config(screen={"enabled": True, "port": 0}))
    agent.start()
    yield agent
    agent.stop()


def request(agent: Agent, method: str, path: str, body: Any = None,
            headers: dict[str, str] | None = None) -> tuple[int, Any]:
    assert agent.screen is not None
    conn = http.client.HTTPConnection(agent.screen.host, agent.screen.port, timeout=5)
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    sent = {"Host": f"127.0.0.1:{agent.screen.port}", **(headers or {})}
    conn.request(method, path, body=data, headers=sent)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    ctype = response.getheader("Content-Type", "")
    return response.status, json.loads(raw) if ctype.startswith("application/json") else raw.decode()


def good_headers(agent: Agent) -> dict[str, str]:
    assert agent.screen is not None
    return {"Content-Type": "application/json", "X-Kiosk-Token": agent.screen.token,
            "Origin": f"http://127.0.0.1:{agent.screen.port}"}


def test_page_embeds_the_token_and_loads_nothing_external(agent: Agent) -> None:
    status, html = request(agent, "GET", "/")
    assert status == 200
    assert agent.screen is not None and f'content="{agent.screen.token}"' in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "no external assets: the page works offline"
    for asset in ("/app.js", "/app.css"):
        assert request(agent, "GET", asset)[0] == 200


def test_state_shows_step_outbox_and_offline_banner(agent: Agent) -> None:
    status, state = request(agent, "GET", "/state.json")
    assert status == 200
    assert state["view"]["step"] == "idle" and state["view"]["mode"] == "storeroom"
    assert state["outbox"] == {"depth": 0, "oldest_s": None}
    wait_for(lambda: agent.link.connected)
    agent.record("asset.checkin", None, {"tag": str(new_code(Kind.ASSET))})  # no server: it stays queued
    state = request(agent, "GET", "/state.json")[1]
    assert state["outbox"]["depth"] == 1
    assert state["offline"] is None  # broker up, no server status said offline


def test_post_with_token_drives_the_workflow(agent: Agent, responder: Responder) -> None:
    person, item = str(new_code(Kind.PERSON)), str(new_code(Kind.SUPPLY))
    for code in (person, item):
        status, body = request(agent, "POST", "/input", {"action": "code", "data": {"code": code}},
                               good_headers(agent))
        assert status == 200 and body["outcome"]["level"] == "info"
    assert body["view"]["step"] == "quantity"
    status, body = request(agent, "POST", "/input", {"action": "quantity", "data": {"qty": "2"}},
                           good_headers(agent))
    assert body["outcome"]["level"] == "pending" and body["last"]["detail"] == "已本地保存，等待服务器确认"
    last = wait_for(lambda: (s := request(agent, "GET", "/state.json")[1])["last"]["level"] == "ok" and s["last"])
    assert responder.received[0].data == {"item": item, "qty": 2, "taker": person}
    # What the operator did stays the title; the server's verdict, in the kiosk's words, goes under it.
    assert (last["title"], last["detail"]) == (f"{person} 领用 {item} × 2", "已记录")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"X-Kiosk-Token": ""}, 403),
        ({"X-Kiosk-Token": "guess"}, 403),
        ({"Origin": "http://evil.example"}, 403),
        ({"Host": "evil.example:80"}, 403),
        ({"Content-Type": "text/plain"}, 415),
    ],
)
def test_cross_site_and_tokenless_posts_are_refused(agent: Agent, change: dict[str, str], expected: int) -> None:
    headers = {**good_headers(agent), **change}
    status, _ = request(agent, "POST", "/input", {"action": "code", "data": {"code": str(new_code(Kind.ASSET))}},
                        headers)
    assert status == expected
    assert agent.depth() == 0, "a refused request records nothing"


def test_bad_bodies_are_400(agent: Agent) -> None:
    assert request(agent, "POST", "/input", b"{nope", good_headers(agent))[0] == 400
    assert request(agent, "POST", "/input", {"action": 3}, good_headers(agent))[0] == 400
    assert request(agent, "GET", "/nothing")[0] == 404
    assert request(agent, "GET", "/state.json", headers={"Host": "rebind.example:8080"})[0] == 403


# -- language -----------------------------------------------------------------------------

CJK = re.compile(r"[\u4e00-\u9fff]")


class VisibleText(HTMLParser):
    """The texts of a page a person reads: text outside script and style, and placeholders."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style")
        shown = ("placeholder", "title", "alt", "aria-label")
        self.texts += [value for name, value in attrs if name in shown and value]

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.texts.append(data.strip())


def visible_texts(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    return parser.texts


def script_texts(html: str) -> dict[str, str]:
    match = re.search(r'<script type="application/json" id="texts">(.*?)</script>', html, re.S)
    assert match, "the page carries the script's texts"
    return json.loads(match.group(1))


def test_screen_speaks_chinese_by_default(agent: Agent) -> None:
    html = request(agent, "GET", "/")[1]
    assert '<html lang="zh-CN">' in html
    texts = [t.replace(agent.kiosk, "").replace("AssetGate", "") for t in visible_texts(html)]
    assert not [t for t in texts if re.search(r"[A-Za-z]{2,}", t)], f"English on the Chinese page: {texts}"
    assert {"姓名", "被访人（P-…）", "登记入场", "确定", "正在启动…"} <= set(texts)
    assert 'placeholder="手动输入编号"' in html
    assert script_texts(html) == {"not_responding": "自助终端程序无响应", "clear": "清除", "ok": "确定", "name": "姓名",
                                  "organisation": "单位", "host_name": "被访人", "plate": "车牌号", "since": "入场时间"}
    state = request(agent, "GET", "/state.json")[1]
    view = state["view"]
    assert (view["mode_label"], view["prompt"]) == ("库房", "请扫描人员、资产或存放地点的二维码标签")
    assert [b["label"] for b in view["buttons"]] == ["登录", "退出登录", "盘点"]
    assert state["outbox_label"] == "待发送：0"
    request(agent, "POST", "/input", {"action": "login", "data": {}}, good_headers(agent))
    body = request(agent, "POST", "/input", {"action": "code", "data": {"code": "P-0000000"}}, good_headers(agent))[1]
    assert body["view"]["operator_label"] == "库管员 P-0000000"
    assert body["last"]["title"] == "库管员 P-0000000 已登录"


def test_screen_speaks_english_by_choice(make_config: Callable[..., AgentConfig]) -> None:
    agent = Agent(make_config(screen={"enabled": True, "port": 0}, mode="gate", language="en"))
    agent.start()
    try:
        html = request(agent, "GET", "/")[1]
        assert '<html lang="en">' in html and not CJK.search(html)
        assert {"Name", "Host (P-…)", "Sign in", "Enter", "Starting…"} <= set(visible_texts(html))
        assert script_texts(html)["not_responding"] == "The kiosk agent is not responding"
        state = request(agent, "GET", "/state.json")[1]
        assert state["view"]["mode_label"] == "Gate" and state["outbox_label"] == "Waiting to send: 0"
        assert state["view"]["prompt"] == "Scan a visitor pass (sign out) or an asset (exit permit check)"
        assert "Sign in a visitor" in [b["label"] for b in state["view"]["buttons"]]
    finally:
        agent.stop()


def test_the_script_holds_no_words() -> None:
    # Every text a person reads comes from the page's texts block or /state.json, translated in
    # Python. A string literal in the script is an id, a route, a header or a key, never a word:
    # a new literal must be one of these, or the text belongs in kiosk/page.py's tables.
    technical = {"use strict", "meta[name=kiosk-token]", "texts", "/input", "POST", "Content-Type",
                 "application/json", "X-Kiosk-Token", "mode", "operator", "prompt", "outbox", "banner", "info",
                 "", "result", "result ", "title", "detail", "quantity", "signin", "visitor", "actions", "button",
                 "/state.json", "no-store", ".keys", "clear", "ok", "qty", "typed", "code",
                 "1", "2", "3", "4", "5", "6", "7", "8", "9", "0",
                 # the gate's roll call: its table's id and cells, the row keys, the time format
                 "rollcall", "th", "tr", "td", "name", "organisation", "host_name", "plate", "since", "2-digit",
                 # the stocktake number is typed on the same keypad: its step id
                 "stocktake_number",
                 # the vehicle step: its form's id, which is also its step and its action
                 "vehicle"}
    literals = set(re.findall(r"'([^']*)'", page.JS))
    assert literals - technical == set(), "words in the script: translate them in Python"
