"""The local screen: state as JSON, input only from our own page (token, Origin, Host, JSON)."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kiosk_support import Responder, wait_for

from contract.codes import Kind, new_code
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
    assert body["outcome"]["level"] == "pending" and body["last"]["detail"] == "saved locally"
    wait_for(lambda: request(agent, "GET", "/state.json")[1]["last"]["level"] == "ok")
    assert responder.received[0].data == {"item": item, "qty": 2, "taker": person}


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
