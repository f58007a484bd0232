"""The guard: forbidden targets are refused before any connection, and every fetch has limits."""

import pytest

from liveblog import safefetch

C = "{canary}"  # the canary's port, filled in per test

# Every spelling here points at the canary (127.0.0.1 / ::1 on its port), at a metadata endpoint, at a private
# network, or uses something other than plain http(s). None may cause a connection.
FORBIDDEN = [
    f"http://127.0.0.1:{C}/",
    f"http://127.1:{C}/",
    f"http://127.0.1:{C}/",
    f"http://0177.0.0.1:{C}/",
    f"http://0x7f.1:{C}/",
    f"http://0x7f000001:{C}/",
    f"http://2130706433:{C}/",
    f"http://017700000001:{C}/",
    f"http://127.0.0.1.:{C}/",
    f"http://[::1]:{C}/",
    f"http://[0:0:0:0:0:0:0:1]:{C}/",
    f"http://[::ffff:127.0.0.1]:{C}/",
    f"http://[::ffff:7f00:1]:{C}/",
    f"http://[0:0:0:0:0:ffff:127.0.0.1]:{C}/",
    f"http://[::127.0.0.1]:{C}/",
    f"http://[2002:7f00:1::]:{C}/",
    f"http://[64:ff9b::7f00:1]:{C}/",
    f"http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:{C}/",
    f"http://0.0.0.0:{C}/",
    f"http://0:{C}/",
    f"http://[::]:{C}/",
    f"http://%31%32%37.0.0.1:{C}/",
    f"http://127\u30020\u30020\u30021:{C}/",
    f"http://\uff11\uff12\uff17.0.0.1:{C}/",
    f"http://localhost:{C}/",
    f"http://LOCALHOST.:{C}/",
    f"http://vm:{C}/",
    f"http://rebind.test:{C}/",
    f"http://mixed.test:{C}/",
    f"http://user:secret@127.0.0.1:{C}/",
    f"http://news.example@127.0.0.1:{C}/",
    f" http://127.0.0.1:{C}/",
    f"http://127.0.0.1:{C}/\n",
    f"http://127.0.0.1:{C}/\x00",
    f"http://127.0.0.1:{C}\\@news.example/",
    f"http://127.0.0.1:{C}/\tx",
    f"ftp://127.0.0.1:{C}/",
    f"gopher://127.0.0.1:{C}/_GET",
    f"dict://127.0.0.1:{C}/info",
    f"file://127.0.0.1:{C}/etc/passwd",
    "file:///etc/passwd",
    "javascript:fetch('http://127.0.0.1/')",
    "data:text/html,<h1>hi</h1>",
    "//127.0.0.1/",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://169.254.170.2/v2/credentials",
    "http://100.100.100.200/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://meta.test/latest/meta-data/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://192.0.0.192/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://240.0.0.1/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fec0::1]/",
    "http://[ff02::1]/",
    "http://[fe80::1%25eth0]/",
    "http://printer.local/",
    "http://router.home.arpa/",
]


@pytest.fixture
def strict(settings, canary):
    """Production's rules, with the canary's port allowed so that only the address can be the reason."""
    settings.LINKCARD_FETCH_ALLOW_LOOPBACK = False
    settings.LINKCARD_FETCH_ALLOWED_PORTS = [canary.port]
    settings.LINKCARD_FETCH_STATIC_HOSTS = {
        "rebind.test": ["127.0.0.1"],
        "mixed.test": ["93.184.215.14", "::1"],
        "meta.test": ["169.254.169.254"],
        "vm": ["127.0.0.1"],
    }
    return canary


def test_the_list_is_long_enough():
    assert len(FORBIDDEN) >= 25


@pytest.mark.parametrize("template", FORBIDDEN)
def test_forbidden_target_is_refused_before_any_connection(strict, connects, template):
    url = template.replace(C, str(strict.port))
    with pytest.raises(safefetch.FetchRefused) as refused:
        safefetch.fetch(url)
    assert str(refused.value)  # a sentence for the editor
    assert connects == []
    assert strict.connections() == 0


REDIRECT_TARGETS = [
    f"http://127.0.0.1:{C}/",
    f"http://0x7f.1:{C}/",
    f"http://2130706433:{C}/",
    f"http://[::1]:{C}/",
    f"http://[::ffff:127.0.0.1]:{C}/",
    f"http://rebind.test:{C}/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://10.0.0.1/admin",
    f"gopher://127.0.0.1:{C}/_",
    "file:///etc/passwd",
    f"http://user:pw@127.0.0.1:{C}/",
]


@pytest.mark.parametrize("template", REDIRECT_TARGETS)
def test_redirect_into_a_forbidden_target_is_refused(outside, settings, canary, connects, template):
    # The allowed test server may be reached; the canary, on the same loopback address, may not.
    settings.LINKCARD_FETCH_ALLOW_LOOPBACK = {outside.port}
    settings.LINKCARD_FETCH_ALLOWED_PORTS = [outside.port, canary.port]
    settings.LINKCARD_FETCH_STATIC_HOSTS = {"rebind.test": ["127.0.0.1"]}
    target = template.replace(C, str(canary.port))
    start = outside.url("/redirect?to=" + target.replace("%", "%25").replace("&", "%26"))
    with pytest.raises(safefetch.FetchRefused):
        safefetch.fetch(start)
    assert ("/redirect", f"127.0.0.1:{outside.port}") in outside.hits
    assert set(connects) == {("127.0.0.1", outside.port)}
    assert canary.connections() == 0


def test_a_port_off_the_allow_list_is_refused(web, canary, connects):
    with pytest.raises(safefetch.FetchRefused, match=f"Port {canary.port}"):
        safefetch.fetch(f"http://127.0.0.1:{canary.port}/")
    assert connects == []
    assert canary.connections() == 0


def test_unusual_spelling_of_a_public_address_is_refused(settings):
    settings.LINKCARD_FETCH_ALLOW_LOOPBACK = False
    with pytest.raises(safefetch.FetchRefused, match="unusual form"):
        safefetch.parse("http://134744072/")


def test_connects_to_the_checked_address_and_sends_the_host_name(web, connects):
    fetched = safefetch.fetch(web.url("/host-echo", host="news.test"))
    assert f"Host was news.test:{web.port}".encode() in fetched.body
    assert connects == [("127.0.0.1", web.port)]


class RebindingDNS(dict):
    """A name server that answers a harmless address first and an internal one afterwards."""

    def __init__(self):
        super().__init__()
        self.asked = 0

    def __contains__(self, name):
        return name == "rebinding.test"

    def __getitem__(self, name):
        self.asked += 1
        return ["127.0.0.1"] if self.asked == 1 else ["10.0.0.1"]


def test_dns_rebinding_cannot_switch_the_address(web, settings, connects):
    dns = RebindingDNS()
    settings.LINKCARD_FETCH_STATIC_HOSTS = dns
    fetched = safefetch.fetch(web.url("/og", host="rebinding.test"))
    assert b"Ceasefire talks" in fetched.body
    assert dns.asked == 1  # resolved once; the connection used that answer
    assert connects == [("127.0.0.1", web.port)]


def test_redirects_are_followed_up_to_three(web):
    assert b"End of the chain" in safefetch.fetch(web.url("/chain?n=3")).body
    with pytest.raises(safefetch.FetchError, match="more than 3 times"):
        safefetch.fetch(web.url("/chain?n=4"))


def test_redirect_loop_stops(web):
    with pytest.raises(safefetch.FetchError, match="redirected more than 3 times"):
        safefetch.fetch(web.url("/loop/a"))


def test_huge_page_is_cut_at_the_byte_limit(web):
    with pytest.raises(safefetch.FetchError, match="larger than 2 MB"):
        safefetch.fetch(web.url("/huge"))


def test_endless_body_is_cut_at_the_byte_limit(web):
    with pytest.raises(safefetch.FetchError, match="larger than 2 MB"):
        safefetch.fetch(web.url("/endless"))


def test_gzip_bomb_is_cut_after_decompression(web):
    with pytest.raises(safefetch.FetchError, match="larger than 2 MB"):
        safefetch.fetch(web.url("/bomb"))


def test_compressed_page_is_read(web):
    assert b"Compressed and fine" in safefetch.fetch(web.url("/gzip")).body


def test_slow_page_hits_the_deadline(web, settings):
    settings.LINKCARD_FETCH_DEADLINE = 1
    with pytest.raises(safefetch.FetchError, match="took too long"):
        safefetch.fetch(web.url("/slow"))


def test_content_type_is_checked(web):
    with pytest.raises(safefetch.FetchError, match="text/plain, not a web page"):
        safefetch.fetch(web.url("/text"))
    with pytest.raises(safefetch.FetchError, match="not an image"):
        safefetch.fetch(web.url("/og"), accept=safefetch.IMAGE_TYPES)


def test_error_status_and_unreachable_host(web, canary, settings):
    with pytest.raises(safefetch.FetchError, match="404"):
        safefetch.fetch(web.url("/missing"))
    closed = canary.port
    canary.close()
    settings.LINKCARD_FETCH_ALLOWED_PORTS = [web.port, closed]
    with pytest.raises(safefetch.FetchError, match="could not be reached"):
        safefetch.fetch(f"http://127.0.0.1:{closed}/")


def test_unknown_host_makes_no_dns_query_in_tests(web, connects):
    with pytest.raises(safefetch.FetchError, match="could not be found"):
        safefetch.fetch("http://news.example.org/story")
    assert connects == []
