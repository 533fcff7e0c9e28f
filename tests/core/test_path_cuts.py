"""Idle timeout vs lifetime cap vs request timeout, and stickiness: the pure judgements."""

from __future__ import annotations

from conndebug.core.path import Heartbeat, Held, identify, judge_hold, judge_long_poll
from conndebug.core.path.cuts import judge_stickiness
from tests.core import path_recorded as rec
from tests.core.path_recorded import parse

HB = Heartbeat(ping_interval_s=25, ping_timeout_s=20)


def _path(*raws: str):  # type: ignore[no-untyped-def]
    return identify([parse(raw, "handshake") for raw in raws])


def test_same_cut_time_in_both_is_a_lifetime_cap() -> None:
    verdict = judge_hold(Held("quiet", 30.2), Held("chatty", 30.6), held_s=40, heartbeat=HB)
    assert verdict.kind == "lifetime"
    assert verdict.limit_s == 30.4
    assert (
        verdict.title == "A lifetime cap of 30.4 s: every connection is cut, whatever its traffic"
    )
    assert "traffic did not keep it open" in verdict.explanation
    assert verdict.rule.startswith("a lifetime cap below your session length cuts everyone")
    assert verdict.box is None
    assert "backend service timeout (default 30 s)" in verdict.fix  # the generic list


def test_lifetime_cap_behind_a_gcp_load_balancer_names_it_and_its_default() -> None:
    verdict = judge_hold(
        Held("quiet", 30.1),
        Held("chatty", 29.9),
        held_s=40,
        heartbeat=HB,
        path=_path(rec.GCP_HANDSHAKE),
    )
    assert verdict.kind == "lifetime"
    assert (verdict.box.key if verdict.box else None) == "gcp_lb"
    assert (
        "It matches Google Cloud external Application Load Balancer's backend service timeout: "
        "the default of 30 s." in verdict.explanation
    )
    assert verdict.fix.startswith(
        "gcloud compute backend-services update BACKEND --global --timeout=3600"
    )


def test_only_the_quiet_one_cut_is_an_idle_timeout() -> None:
    verdict = judge_hold(Held("quiet", 3.04), Held("chatty", None), held_s=10, heartbeat=HB)
    assert verdict.kind == "idle"
    assert verdict.limit_s == 3.0
    assert "was still open after 10 s" in verdict.explanation
    assert verdict.rule == (
        "every proxy's idle/read timeout must exceed pingInterval + pingTimeout; 3 s is below it"
    )
    assert "nginx proxy_read_timeout 60s" in verdict.fix


def test_idle_timeout_behind_nginx_says_it_was_set_lower_than_the_default() -> None:
    verdict = judge_hold(
        Held("quiet", 2.0),
        Held("chatty", None),
        held_s=8,
        heartbeat=HB,
        path=_path(rec.NGINX_HANDSHAKE),
    )
    assert (verdict.box.key if verdict.box else None) == "nginx"
    assert "nginx, whose proxy_read_timeout is 60 s by default; here it was set lower" in (
        verdict.explanation
    )
    assert verdict.fix.startswith("In the location that proxies Socket.IO: proxy_read_timeout 60s;")


def test_idle_timeout_at_an_alb_default_matches_it() -> None:
    hb = Heartbeat(ping_interval_s=90, ping_timeout_s=30)  # a server pinging less often than 60 s
    verdict = judge_hold(
        Held("quiet", 60.4),
        Held("chatty", None),
        held_s=70,
        heartbeat=hb,
        path=_path(rec.ALB_HANDSHAKE),
    )
    assert verdict.kind == "idle"
    assert (
        "It matches AWS Application Load Balancer's idle_timeout.timeout_seconds: the default of 60 s."
        in (verdict.explanation)
    )
    assert "Key=idle_timeout.timeout_seconds,Value=121" in verdict.fix


def test_chatty_cut_much_later_is_still_idle_with_a_lifetime_note() -> None:
    verdict = judge_hold(Held("quiet", 2.0), Held("chatty", 9.0), held_s=10, heartbeat=HB)
    assert verdict.kind == "idle"
    assert "The chatty one was cut too, after 9 s: there may also be a lifetime cap." in (
        verdict.explanation
    )


def test_cuts_at_the_v2_heartbeat_with_a_generation_mix_are_not_a_proxy() -> None:
    v2 = Heartbeat(ping_interval_s=25, ping_timeout_s=5, eio=3)
    verdict = judge_hold(Held("quiet", 30.0), Held("chatty", 30.1), held_s=40, heartbeat=v2)
    assert verdict.kind == "heartbeat_mismatch"
    assert verdict.title == "Cut after 30.1 s: a heartbeat mismatch, not a proxy"
    assert "Engine.IO 3 while this client speaks Engine.IO 4" in verdict.explanation
    assert verdict.explanation.startswith("Both connections were cut after 30.1 s")
    # an Engine.IO 3 server takes any packet as a sign of life: the chatty one may survive
    quiet_only = judge_hold(Held("quiet", 30.0), Held("chatty", None), held_s=40, heartbeat=v2)
    assert quiet_only.kind == "heartbeat_mismatch"
    assert quiet_only.limit_s == 30.0
    assert quiet_only.explanation.startswith(
        "The quiet connection was cut (the chatty one stayed open) after 30 s"
    )
    # the same cuts with one generation on both sides are a lifetime cap
    same = judge_hold(Held("quiet", 30.0), Held("chatty", 30.1), held_s=40, heartbeat=HB)
    assert same.kind == "lifetime"


def test_no_cut_and_only_the_chatty_one_cut() -> None:
    none = judge_hold(Held("quiet", None), Held("chatty", None), held_s=12, heartbeat=HB)
    assert none.kind == "none"
    assert none.limit_s is None
    assert "no idle timeout below pingInterval (25 s" in none.explanation
    assert "no lifetime cap below 12 s" in none.explanation
    odd = judge_hold(Held("quiet", None), Held("chatty", 4.0), held_s=12, heartbeat=HB)
    assert odd.kind == "unclear"


def test_tolerance_decides_same_time() -> None:
    near = judge_hold(Held("quiet", 5.0), Held("chatty", 5.9), held_s=10)
    far = judge_hold(Held("quiet", 5.0), Held("chatty", 6.2), held_s=10)
    assert (near.kind, far.kind) == ("lifetime", "idle")


def test_held_long_poll_cut_early_is_a_request_timeout() -> None:
    path = identify([parse(rec.HAPROXY_504, "polling")])
    verdict = judge_long_poll(
        ended_s=2.03, answered=False, ping_interval_s=25, status=504, path=path
    )
    assert verdict.kind == "request"
    assert verdict.limit_s == 2.0
    assert "was answered HTTP 504 after 2 s" in verdict.explanation
    assert verdict.rule.endswith("; 2 s is below 25 s")
    assert (verdict.box.key if verdict.box else None) == "haproxy"
    assert verdict.fix.startswith("In the backend (or defaults): timeout server 60s")


def test_app_gateway_request_timeout_default_is_named() -> None:
    path = identify([parse(rec.APP_GATEWAY_502, "polling")])
    verdict = judge_long_poll(
        ended_s=20.2, answered=False, ping_interval_s=25, status=502, path=path
    )
    assert verdict.kind == "request"
    assert (
        "It matches Azure Application Gateway's backend setting request timeout: the default of 20 s."
        in (verdict.explanation)
    )
    assert "--timeout 60" in verdict.fix


def test_long_poll_answered_or_ended_late() -> None:
    ok = judge_long_poll(ended_s=25.01, answered=True, ping_interval_s=25)
    assert ok.kind == "none"
    late = judge_long_poll(ended_s=24.5, answered=False, ping_interval_s=25)
    assert late.kind == "unclear"


def test_stickiness_by_cookie_warns_about_credentials_and_node() -> None:
    path = identify([parse(rec.HAPROXY_HANDSHAKE, "handshake")])
    verdict = judge_stickiness(path, with_cookies_ok=True, without_cookies_ok=False)
    assert verdict.mechanism == "cookie"
    assert verdict.cookie == "SERVERID"
    assert (verdict.box.key if verdict.box else None) == "haproxy"
    assert "sends back SERVERID (HAProxy)" in verdict.text
    assert any("withCredentials: true" in w for w in verdict.warnings)
    assert any("Node.js client keeps no cookies" in w for w in verdict.warnings)


def test_stickiness_by_address_or_none() -> None:
    plain = identify([parse(rec.NGINX_HANDSHAKE, "handshake")])
    ip = judge_stickiness(plain, with_cookies_ok=True, without_cookies_ok=True)
    assert ip.mechanism == "ip"
    assert ip.warnings == ()
    none = judge_stickiness(plain, with_cookies_ok=False, without_cookies_ok=False)
    assert none.mechanism == "none"
    assert none.fix == "upstream NAME { ip_hash; server ...; server ...; }"
    told = judge_stickiness(
        identify([parse(rec.ALB_HANDSHAKE, "handshake")]),
        with_cookies_ok=None,
        without_cookies_ok=None,
    )
    assert (told.mechanism, told.cookie) == ("cookie", "AWSALB")
    assert "not tested by behaviour" in told.text
