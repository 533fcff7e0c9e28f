"""Path fingerprints: recorded nginx / HAProxy answers and vendors' documented header sets."""

from __future__ import annotations

import pytest

from conndebug.core.path import BOXES, Answer, box, identify
from conndebug.core.path.identify import RULES
from tests.core import path_recorded as rec
from tests.core.path_recorded import parse


def _keys(*raws: tuple[str, str]) -> list[str]:
    report = identify([parse(raw, where) for raw, where in raws])
    return [h.box.key for h in report.hops]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (rec.NGINX_HANDSHAKE, ["nginx"]),
        (rec.NGINX_WS101, ["nginx"]),
        (rec.NGINX_502, ["nginx"]),
        (rec.NGINX_504, ["nginx"]),
        (rec.NGINX_502_NO_TOKENS, ["nginx"]),
        (rec.HAPROXY_HANDSHAKE, ["haproxy", "aiohttp"]),
        (rec.HAPROXY_503, ["haproxy"]),
        (rec.HAPROXY_504, ["haproxy"]),
        (rec.CLOUDFLARE_HANDSHAKE, ["cloudflare"]),
        (rec.CLOUDFLARE_524, ["cloudflare"]),
        (rec.CLOUDFRONT_HANDSHAKE, ["cloudfront"]),
        (rec.ALB_HANDSHAKE, ["aws_alb"]),
        (rec.ALB_502, ["aws_alb"]),
        (rec.GCP_HANDSHAKE, ["gcp_lb"]),
        (rec.CLOUD_RUN_HANDSHAKE, ["google_frontend"]),
        (rec.FRONT_DOOR_HANDSHAKE, ["azure_front_door"]),
        (rec.APP_GATEWAY_HANDSHAKE, ["azure_app_gateway"]),
        (rec.APP_GATEWAY_502, ["azure_app_gateway"]),
        (rec.APP_SERVICE_HANDSHAKE, ["azure_app_service"]),
        (rec.HEROKU_HANDSHAKE, ["heroku"]),
        (rec.FLY_HANDSHAKE, ["fly"]),
        (rec.VERCEL_404, ["vercel"]),
        (rec.FASTLY_HANDSHAKE, ["fastly"]),
        (rec.AKAMAI_403, ["akamai"]),
        (rec.ISTIO_HANDSHAKE, ["istio"]),
        (rec.ENVOY_503, ["envoy"]),
        (rec.INGRESS_HANDSHAKE, ["ingress_nginx"]),
        (rec.INGRESS_DEFAULT_BACKEND, ["ingress_nginx"]),
        (rec.KONG_HANDSHAKE, ["kong"]),
        (rec.NODE_DIRECT, []),
    ],
)
def test_one_answer_names_its_box_and_no_other(raw: str, expected: list[str]) -> None:
    assert _keys((raw, "handshake")) == expected


def test_nginx_evidence_counts_the_answers_that_said_so() -> None:
    report = identify(
        [
            parse(rec.NGINX_HANDSHAKE, "handshake"),
            parse(rec.NGINX_WS101, "websocket"),
            parse(rec.NGINX_504, "polling"),
        ]
    )
    [hop] = report.hops
    assert hop.confidence == "medium"
    assert hop.because == "Server: nginx/1.22.1 on 3 answers"
    assert report.text == "nginx (Server: nginx/1.22.1 on 3 answers) → server"
    evidence = report.to_evidence()
    assert evidence["answers_read"] == 3
    [entry] = evidence["path"]
    assert entry["box"] == "nginx"
    assert "idle 60 s (proxy_read_timeout, a default)" in entry["limits"]
    assert "504 error page says '<center>nginx/1.22.1</center>' (polling)" in entry["evidence"]


def test_haproxy_is_named_by_its_own_page_and_its_cookie() -> None:
    report = identify(
        [parse(rec.HAPROXY_HANDSHAKE, "handshake"), parse(rec.HAPROXY_504, "polling")]
    )
    assert [h.box.key for h in report.hops] == ["haproxy", "aiohttp"]
    haproxy = report.hops[0]
    assert haproxy.confidence == "medium"  # the page; the SERVERID cookie alone is only "low"
    assert haproxy.because == (
        '504 error page says "The server didn\'t respond in time" on the polling answer'
    )
    assert report.text.endswith("→ server: aiohttp (python-engineio)")
    assert [(name, owner.key) for name, owner in report.affinity_cookies] == [
        ("SERVERID", "haproxy")
    ]
    only_cookie = identify([parse(rec.HAPROXY_HANDSHAKE, "handshake")])
    assert only_cookie.hops[0].confidence == "low"


def test_layers_come_outermost_first() -> None:
    # Cloudflare in front of nginx: Cloudflare rewrites Server, nginx shows on its own error page
    assert _keys((rec.CLOUDFLARE_HANDSHAKE, "handshake"), (rec.NGINX_502, "polling")) == [
        "cloudflare",
        "nginx",
    ]
    # CloudFront in front of an ALB (its stickiness cookie passes through)
    assert _keys((rec.CLOUDFRONT_HANDSHAKE, "handshake"), (rec.ALB_HANDSHAKE, "polling")) == [
        "cloudfront",
        "aws_alb",
    ]
    # GCP's load balancer in front of ingress-nginx
    assert _keys((rec.GCP_HANDSHAKE, "handshake"), (rec.INGRESS_HANDSHAKE, "polling")) == [
        "gcp_lb",
        "ingress_nginx",
    ]


def test_ingress_nginx_takes_over_plain_nginx_evidence() -> None:
    report = identify(
        [parse(rec.INGRESS_HANDSHAKE, "handshake"), parse(rec.NGINX_502_NO_TOKENS, "polling")]
    )
    [hop] = report.hops
    assert hop.box.key == "ingress_nginx"
    assert hop.confidence == "high"
    assert any("Server: nginx" in c.evidence for c in hop.clues)


def test_app_gateway_page_is_not_mistaken_for_nginx() -> None:
    # same page layout as nginx's, but it names the gateway
    assert _keys((rec.APP_GATEWAY_502, "polling")) == ["azure_app_gateway"]


def test_cookie_names_only_values_never_kept() -> None:
    report = identify([parse(rec.ALB_HANDSHAKE, "handshake")])
    assert report.cookies == ("AWSALB", "AWSALBCORS")
    assert "oRb8nGe9a8" not in repr(report.to_evidence())
    assert "oRb8nGe9a8" not in report.text


def test_set_cookie_lines_from_a_joined_mapping() -> None:
    answer = Answer.of(
        "handshake",
        200,
        {"server": "nginx", "set-cookie": "a=1, b=2"},
        set_cookie=["INGRESSCOOKIE=abc; Path=/", "io=sid123; Path=/"],
    )
    assert answer.cookie_names() == ["INGRESSCOOKIE", "io"]
    report = identify([answer])
    assert [h.box.key for h in report.hops] == ["ingress_nginx"]
    assert report.engineio_cookie


def test_nothing_named_says_so() -> None:
    report = identify([parse(rec.NODE_DIRECT, "handshake")])
    assert report.hops == ()
    assert report.text.startswith("no proxy or load balancer named by the 1 answers read")


def test_every_rule_names_a_catalogued_box_and_every_cookie_is_recognised() -> None:
    keys = {b.key for b in BOXES}
    assert {r.box for r in RULES} <= keys
    for b in BOXES:
        for name in b.affinity_cookies:
            concrete = name.replace("*", "1")
            assert b.sets_cookie(concrete), (b.key, name)


def test_catalogue_figures_match_the_facts_table() -> None:
    """The documented limits of socketio-facts.md's "Proxy and load-balancer limits" table."""

    def figure(key: str, kind: str) -> tuple[float | None, bool]:
        lim = box(key).limit(kind)  # type: ignore[arg-type]
        assert lim is not None, (key, kind)
        return lim.seconds, lim.default

    assert figure("nginx", "idle") == (60, True)
    assert figure("ingress_nginx", "idle") == (60, True)
    assert figure("aws_alb", "idle") == (60, True)
    assert figure("aws_nlb", "idle") == (350, False)
    assert figure("gcp_lb", "lifetime") == (30, True)
    assert figure("azure_app_gateway", "lifetime") == (20, True)
    assert figure("azure_front_door", "idle") == (300, False)
    assert figure("azure_front_door", "lifetime") == (4 * 3600, False)
    assert figure("heroku", "first_byte") == (30, False)
    assert figure("heroku", "idle") == (55, False)
    assert figure("cloudflare", "idle") == (120, True)
    assert figure("api_gateway", "idle") == (600, False)
    assert figure("api_gateway", "lifetime") == (7200, False)


def test_fixes_carry_the_figure() -> None:
    assert 'proxy-read-timeout: "61"' in box("ingress_nginx").fix("idle", 61)
    assert 'affinity: "cookie"' in box("ingress_nginx").fix("sticky", 0)
    assert "Key=idle_timeout.timeout_seconds,Value=61" in box("aws_alb").fix("idle", 61)
    assert "--timeout=3600" in box("gcp_lb").fix("lifetime", 3600)
    assert "--timeout 3600" in box("azure_app_gateway").fix("lifetime", 3600)
    assert "timeout tunnel 1h" in box("haproxy").fix("idle", 61)
    assert "timeout server 61s" in box("haproxy").fix("request", 61)
    assert "proxy_read_timeout 61s;" in box("nginx").fix("idle", 61)
    assert "55 s" in box("heroku").fix("idle", 61)
    assert "30 s" in box("heroku").fix("first_byte", 61)
    assert box("nginx").fix("lifetime", 10) == ""
