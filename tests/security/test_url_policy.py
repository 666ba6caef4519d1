"""The URL policy's decisions, address by address (the crawl-level probes are in test_hostile_pages.py)."""
from __future__ import annotations

import ipaddress

import pytest

from scrapers.config import SourceConfig
from scrapers.urlpolicy import Policy, UrlRefused, resolve, split_entry, unsafe


def _refusal(policy: Policy, url: str, *, image: bool = True) -> str | None:
    try:
        host, port = policy.check_url(url, image=image)
        for address in resolve(host, port):
            policy.check_address(host, port, address)
    except UrlRefused as exc:
        return exc.reason
    return None


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x.png", "data:image/png;base64,AAAA",
                                 "s3://bucket/key.png", "gopher://127.0.0.1:6379/_INFO", "javascript:alert(1)",
                                 "//no-scheme/x.png", "HTTP://[::1"])
def test_only_http_and_https(url):
    reason = _refusal(Policy.build([], [], []), url)
    assert reason in ("scheme", "no_host", "bad_port", "bad_url") and reason is not None


@pytest.mark.parametrize("address, why", [
    ("127.0.0.2", "loopback"), ("10.1.2.3", "private"), ("192.168.0.1", "private"), ("172.16.5.4", "private"),
    ("169.254.169.254", "link-local"), ("0.0.0.0", "unspecified"), ("224.0.0.251", "multicast"),
    ("240.0.0.1", "reserved"), ("100.64.0.1", "not globally routable"), ("::1", "loopback"),
    ("fe80::1", "link-local"), ("fc00::1", "private"), ("ff02::1", "multicast"),
    ("::ffff:127.0.0.1", "maps to 127.0.0.1"), ("::ffff:169.254.169.254", "maps to 169.254.169.254"),
    ("2002:7f00:1::", "maps to 127.0.0.1"),
])
def test_non_public_addresses_are_named(address, why):
    found = unsafe(ipaddress.ip_address(address))
    assert found is not None and why in found


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "1.1.1.1"])
def test_public_addresses_pass(address):
    assert unsafe(ipaddress.ip_address(address)) is None


def test_listed_loopback_host_works_on_its_ports_only():
    policy = Policy.build(["127.0.0.1"], ["127.0.0.3:9000"], ["http://127.0.0.1:8765/"])
    assert _refusal(policy, "http://127.0.0.1:8765/a.jpg", image=False) is None
    assert _refusal(policy, "http://127.0.0.1:8765/a.jpg") is None
    assert _refusal(policy, "http://127.0.0.1:6379/") == "private_port"
    assert _refusal(policy, "http://127.0.0.3:9000/x.png") is None
    assert _refusal(policy, "http://127.0.0.3:9000/x.png", image=False) == "offsite_host"  # image host only
    assert _refusal(policy, "http://127.0.0.2:8765/x.png") == "offsite_host"
    assert _refusal(policy, "http://[::ffff:127.0.0.1]:8765/x.png") == "offsite_host"
    assert _refusal(policy, "http://localhost:8765/x.png") == "offsite_host"


def test_without_allowed_domains_any_public_host_but_no_unlisted_private_address():
    policy = Policy.build([], [], ["http://127.0.0.1:8765/"])
    assert _refusal(policy, "http://127.0.0.1:8765/x.png") is None
    assert _refusal(policy, "http://127.0.0.2:8765/x.png") == "private_address"
    assert _refusal(policy, "http://[::ffff:7f00:2]:8765/x.png") == "private_address"
    assert _refusal(policy, "http://localhost:8765/x.png") == "private_address"  # resolves to loopback
    assert _refusal(policy, "http://169.254.169.254/latest/meta-data/") == "private_address"
    assert Policy.build([], [], []).check_url("https://93.184.215.14/x.png", image=True) == ("93.184.215.14", 443)


def test_subdomains_follow_scrapy_but_private_exception_is_exact():
    policy = Policy.build(["example.com"], ["cdn.example.net"], [])
    assert policy.check_url("https://img.example.com/a.png", image=False) == ("img.example.com", 443)
    assert policy.check_url("https://x.cdn.example.net/a.png", image=True)[0] == "x.cdn.example.net"
    with pytest.raises(UrlRefused, match="offsite_host"):
        policy.check_url("https://evil-example.com/a.png", image=True)
    with pytest.raises(UrlRefused, match="private_address"):  # a listed domain's subdomain on 10/8
        policy.check_address("intranet.example.com", 443, ipaddress.ip_address("10.0.0.5"))
    policy.check_address("example.com", 443, ipaddress.ip_address("93.184.215.14"))


def test_entries_split_and_config_validation():
    assert split_entry("[::1]:8080") == ("::1", 8080) and split_entry("::1") == ("::1", None)
    assert split_entry("CDN.Example.com.") == ("cdn.example.com", None)
    SourceConfig(start_urls=["http://a/"], image_domains=["cdn.example.com", "127.0.0.1:9000", "[::1]:80"])
    for bad in ("https://cdn.example.com", "cdn.example.com/images", "a b"):
        with pytest.raises(ValueError, match="image_domains entry"):
            SourceConfig(start_urls=["http://a/"], image_domains=[bad])
    with pytest.raises(ValueError, match="no port"):
        SourceConfig(start_urls=["http://a/"], allowed_domains=["127.0.0.1:8765"])


def test_an_answer_from_an_unlisted_private_address_is_discarded_dns_rebinding():
    """The host (on a listed domain, not itself listed) resolved to a public address when checked, but the
    connection reached 10.0.0.7."""
    from scrapy.http import Request, Response
    from scrapy.utils.test import get_crawler

    from scrapers.urlpolicy import UrlPolicyMiddleware

    crawler = get_crawler(settings_dict={"HARVEST_URL_POLICY": True})
    crawler.stats.open_spider()
    mw = UrlPolicyMiddleware.from_crawler(crawler)
    mw.policy = Policy.build(["example.com"], [], ["https://example.com/"])
    mw.addresses[("img.example.com", 443)] = [ipaddress.ip_address("93.184.215.14")]
    request = Request("https://img.example.com/a.png")
    good = Response(request.url, request=request, ip_address=ipaddress.ip_address("93.184.215.14"))
    assert mw.process_response(request, good) is good
    rebound = Response(request.url, request=request, ip_address=ipaddress.ip_address("10.0.0.7"))
    with pytest.raises(UrlRefused) as refused:
        mw.process_response(request, rebound)
    assert refused.value.reason == "rebinding" and "10.0.0.7" in refused.value.detail
    assert crawler.stats.get_value("urlpolicy/refused/rebinding") == 1
    assert crawler.stats.get_value("urlpolicy/rebound") == 1
