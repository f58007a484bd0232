"""The guarded fetcher: how the server reads other people's pages without opening a door into our network.

Link previews are the classic server-side request forgery hole. Every fetch here:

- accepts only http and https URLs on the default port or a port in LINKCARD_FETCH_ALLOWED_PORTS, parsed
  strictly: no credentials, no spaces or control characters, no backslashes, a real host name or IP address;
- resolves the host once and refuses the whole URL if ANY address is loopback, private, link-local,
  unique-local, multicast, reserved, unspecified, shared (CGNAT), a cloud metadata endpoint, or an IPv6 form
  that embeds such an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo); IPv4 written in decimal, octal,
  hex or short form is read the way inet_aton (and browsers) read it, checked, and refused in any case;
- connects to the address it checked, never to the name again, so DNS rebinding cannot switch it; the Host
  header, TLS SNI and certificate check still use the host name;
- follows at most MAX_REDIRECTS redirects, each checked like the first URL;
- keeps a connect timeout and a total deadline, counts the body AFTER decompression against a byte cap, and
  refuses a content type the caller did not ask for.

LINKCARD_FETCH_ALLOW_LOOPBACK lets the tests reach their local servers; it exists only in tests/settings.py
and a system check (liveblog/checks.py) refuses it anywhere else when DEBUG is off.
"""

import ipaddress
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import urllib3
from django.conf import settings

MAX_REDIRECTS = 3
DEFAULT_PORTS = {"http": 80, "https": 443}
PAGE_TYPES = ("text/html", "application/xhtml+xml")
IMAGE_TYPES = ("image/",)
JSON_TYPES = ("application/json", "text/json", "application/json+oembed")
USER_AGENT = "LiveblogLinkCards/1.0 (link previews for a newsroom live blog)"

# Named so the editor's note says what was hit; all of them also fail the generic checks below.
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"): "a cloud metadata endpoint",  # AWS, GCP, Azure, OpenStack...
    ipaddress.ip_address("169.254.170.2"): "a cloud metadata endpoint",  # AWS ECS task credentials
    ipaddress.ip_address("fd00:ec2::254"): "a cloud metadata endpoint",  # AWS IMDS over IPv6
    ipaddress.ip_address("100.100.100.200"): "a cloud metadata endpoint",  # Alibaba Cloud
    ipaddress.ip_address("192.0.0.192"): "a cloud metadata endpoint",  # Oracle Cloud
}
SHARED_V4 = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not ours, not the internet's
NAT64_V6 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL_V6 = ipaddress.ip_network("64:ff9b:1::/48")
COMPAT_V6 = ipaddress.ip_network("::/96")
# Names that only ever mean "this machine" or "this network", whatever DNS says.
SPECIAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".intranet", ".lan", ".home.arpa", ".arpa")
LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f-\x9f\\]")


class FetchError(Exception):
    """The page could not be had; str() is a sentence for the editor."""


class FetchRefused(FetchError):
    """The guard refused the target before any connection was made."""


@dataclass
class Fetched:
    url: str  # after redirects
    status: int
    content_type: str
    charset: str | None
    body: bytes


def tests_only_setting(name):
    """Switches that exist only in tests/settings.py (the system check liveblog.E002 guards them)."""
    return getattr(settings, name, None)


def address_refusal(ip, port):
    """Why this address may not be fetched, or None. Works on IPv4Address and IPv6Address."""
    if ip in METADATA_ADDRESSES:
        return METADATA_ADDRESSES[ip]
    if ip.version == 6:
        embedded = embedded_ipv4(ip)
        if embedded is not None:
            inner = address_refusal(embedded, port)
            # Mapped and compatible forms are refused whatever they carry: no public site needs them.
            if inner or ip.ipv4_mapped is not None or ip in COMPAT_V6:
                return f"an IPv6 address carrying the IPv4 address {embedded} ({inner or 'embedded IPv4'})"
        if ip.is_site_local:
            return "a site-local address"
    if ip.is_loopback:
        if loopback_allowed(port):
            return None
        return "a loopback address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.version == 4 and ip in SHARED_V4:
        return "a shared (carrier-grade NAT) address"
    if ip.is_private:
        return "a private address" if ip.version == 4 else "a private or unique-local address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "an address that is not on the public internet"
    return None


def embedded_ipv4(ip):
    """The IPv4 address an IPv6 address carries, by any of the usual transition schemes."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in COMPAT_V6 and int(ip) <= 1:
        return None  # :: and ::1 are themselves, not IPv4 in disguise
    if ip in NAT64_V6 or ip in COMPAT_V6 or ip in NAT64_LOCAL_V6:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def loopback_allowed(port):
    """Tests only: True, or the set of ports whose loopback servers the fetcher may reach."""
    allow = tests_only_setting("LINKCARD_FETCH_ALLOW_LOOPBACK")
    if allow is True:
        return True
    return bool(allow) and port in allow


@dataclass
class Target:
    scheme: str
    host: str  # ASCII host name or IP address text, as sent in Host and SNI
    port: int
    path: str  # path and query, percent-encoded
    url: str  # the normalised URL
    literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None

    @property
    def host_header(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def parse(url):
    """Check a URL's shape and return a Target, or raise FetchRefused. Makes no network call."""
    if not isinstance(url, str) or not url:
        raise FetchRefused("There is no URL to fetch.")
    if len(url) > 2000:
        raise FetchRefused("The URL is longer than 2000 characters.")
    if FORBIDDEN_CHARS.search(url):
        raise FetchRefused("The URL contains spaces, control characters or backslashes.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchRefused("The URL could not be read (bad host or port).") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise FetchRefused(f"Only http and https links can be fetched, not “{scheme or 'no scheme'}:”.")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise FetchRefused("The URL carries a user name or password; those are never sent.")
    if port is None:
        if parts.netloc.endswith(":"):
            raise FetchRefused("The URL has an empty port.")
        port = DEFAULT_PORTS[scheme]
    if port != DEFAULT_PORTS[scheme] and port not in settings.LINKCARD_FETCH_ALLOWED_PORTS:
        raise FetchRefused(f"Port {port} is not one the fetcher may use (only 80, 443 and the allowed ports).")

    host, literal = parse_host(parts.netloc.rsplit(":", 1)[0] if parts.port is not None else parts.netloc, port)
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    netloc = f"[{host}]" if ":" in host else host
    if port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    normalised = urlunsplit((scheme, netloc, path.split("?", 1)[0], path.partition("?")[2], ""))
    return Target(scheme, host, port, path, normalised, literal)


def parse_host(netloc_host, port):
    """Return (ascii_host, ip_or_None). IPv4 in any spelling is decoded so it can be checked."""
    if netloc_host.startswith("["):
        if not netloc_host.endswith("]") or "%" in netloc_host:
            raise FetchRefused("The URL's IPv6 address could not be read.")
        try:
            ip = ipaddress.IPv6Address(netloc_host[1:-1])
        except ValueError:
            raise FetchRefused("The URL's IPv6 address could not be read.") from None
        reason = address_refusal(ip, port)
        if reason:
            raise FetchRefused(f"The URL points at {ip}, {reason}.")
        return ip.compressed, ip
    host = netloc_host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise FetchRefused("The URL has no host.")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise FetchRefused("The URL's host name is not a valid domain name.") from None
    labels = host.split(".")
    if NUMERIC_LABEL.match(labels[-1]):
        # Browsers and inet_aton read 2130706433, 0177.0.0.1, 0x7f.1 and 127.1 all as 127.0.0.1.
        try:
            ip = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            raise FetchRefused("The URL's host looks like an IP address but is not a valid one.") from None
        reason = address_refusal(ip, port)
        if reason:
            raise FetchRefused(f"The URL points at {ip}, {reason}.")
        if str(ip) != host:
            raise FetchRefused(f"The URL writes the IP address {ip} in an unusual form; write it as {ip}.")
        return host, ip
    if any(not LABEL.match(label) for label in labels) or len(host) > 253:
        raise FetchRefused("The URL's host name is not a valid domain name.")
    if len(labels) < 2:
        # A single label is completed by the machine's search domains: always someone's internal name.
        raise FetchRefused(f"“{host}” is not a public host name.")
    if host == "localhost" or host.endswith(SPECIAL_SUFFIXES):
        raise FetchRefused(f"“{host}” is a local or internal name.")
    return host, None


_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="safefetch-dns")


def resolve(target, deadline):
    """Every address the host has, each checked; refuse the lot if any one is forbidden."""
    static_hosts = tests_only_setting("LINKCARD_FETCH_STATIC_HOSTS")
    if target.literal is not None:
        addresses = [target.literal]
    elif static_hosts is not None:
        # Tests only: the outside web is a few local servers, and no DNS query may leave the machine.
        if target.host not in static_hosts:
            raise FetchError(f"The host {target.host} could not be found.")
        addresses = [ipaddress.ip_address(a) for a in static_hosts[target.host]]
    else:
        future = _resolver.submit(socket.getaddrinfo, target.host + ".", target.port, 0, socket.SOCK_STREAM)
        try:
            infos = future.result(timeout=max(0.01, deadline - time.monotonic()))
        except FutureTimeout:
            raise FetchError(f"Looking up {target.host} took too long.") from None
        except OSError:
            raise FetchError(f"The host {target.host} could not be found.") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos))
        if not addresses:
            raise FetchError(f"The host {target.host} has no address.")
    for ip in addresses:
        reason = address_refusal(ip, target.port)
        if reason:
            shown = f"{target.host}, which is {ip}," if target.literal is None else str(ip)
            raise FetchRefused(f"The URL points at {shown} {reason}.")
    return addresses


def fetch(url, accept=PAGE_TYPES):
    """GET url through the guard and return a Fetched, or raise FetchError (FetchRefused before connecting)."""
    deadline = time.monotonic() + settings.LINKCARD_FETCH_DEADLINE
    seen = []
    current = url
    while True:
        target = parse(current)
        addresses = resolve(target, deadline)
        pool, response = open_response(target, addresses, deadline)
        try:
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location", "")
                if not location:
                    raise FetchError(f"The page answered {response.status} without saying where to go.")
                seen.append(current)
                if len(seen) > MAX_REDIRECTS:
                    raise FetchError(f"The page redirected more than {MAX_REDIRECTS} times.")
                current = urljoin(target.url, location.strip())
                continue
            if not 200 <= response.status < 300:
                raise FetchError(f"The page answered {response.status} {response.reason or ''}".rstrip() + ".")
            content_type, charset = parse_content_type(response.headers.get("Content-Type", ""))
            if not content_type.startswith(accept):
                raise FetchError(f"The link is {content_type or 'of no stated type'}, not {describe(accept)}.")
            body = read_capped(response, deadline)
            return Fetched(target.url, response.status, content_type, charset, body)
        finally:
            # Close, never drain: an endless body must not be read to its end to free the socket.
            response.close()
            pool.close()


def open_response(target, addresses, deadline):
    """Connect to a checked address (the first that answers) and send the request with the host's name."""
    connect = settings.LINKCARD_FETCH_CONNECT_TIMEOUT
    headers = {
        "Host": target.host_header,
        "User-Agent": USER_AGENT,
        "Accept": "text/html,application/xhtml+xml,application/json;q=0.9,image/*;q=0.8,*/*;q=0.1",
        "Accept-Encoding": "gzip, deflate",
    }
    last_error = None
    for ip in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        timeout = urllib3.Timeout(connect=min(connect, remaining), read=remaining)
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                str(ip),
                target.port,
                timeout=timeout,
                retries=False,
                cert_reqs="CERT_REQUIRED",
                ca_certs=tests_only_setting("LINKCARD_FETCH_CA_CERTS"),  # None: the system's trust store
                server_hostname=target.host,
                assert_hostname=target.host,
            )
        else:
            pool = urllib3.HTTPConnectionPool(str(ip), target.port, timeout=timeout, retries=False)
        try:
            response = pool.urlopen(
                "GET",
                target.path,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=True,
                assert_same_host=False,
            )
        except urllib3.exceptions.SSLError:
            pool.close()
            raise FetchError(f"The secure connection to {target.host} could not be verified.") from None
        except (urllib3.exceptions.TimeoutError, urllib3.exceptions.HTTPError, OSError) as exc:
            pool.close()
            last_error = exc
        else:
            return pool, response
    refused = isinstance(last_error, urllib3.exceptions.NewConnectionError)  # a subclass of the timeout error
    if (isinstance(last_error, urllib3.exceptions.TimeoutError) and not refused) or time.monotonic() >= deadline:
        raise FetchError(f"{target.host} did not answer in time.")
    raise FetchError(f"{target.host} could not be reached.")


def read_capped(response, deadline):
    """Read the decompressed body, stopping at the byte cap and the deadline."""
    limit = settings.LINKCARD_FETCH_MAX_BYTES
    declared = response.headers.get("Content-Length", "")
    encoded = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoded not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise FetchError(f"The page is compressed as {encoded}, which the fetcher does not read.")
    if declared.isdigit() and encoded in ("", "identity") and int(declared) > limit:
        raise FetchError(f"The page is larger than {limit // (1024 * 1024)} MB.")
    chunks = []
    total = 0
    sock = getattr(getattr(response, "connection", None), "sock", None)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError("The page took too long to arrive.")
            if sock is not None:
                # A trickling server must not stretch one read past the deadline.
                sock.settimeout(remaining)
            chunk = response.read1(64 * 1024)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise FetchError(f"The page is larger than {limit // (1024 * 1024)} MB.")
            chunks.append(chunk)
    except (urllib3.exceptions.TimeoutError, TimeoutError):
        raise FetchError("The page took too long to arrive.") from None
    except urllib3.exceptions.DecodeError:
        raise FetchError("The page's compression is damaged.") from None
    except (urllib3.exceptions.HTTPError, OSError):
        if time.monotonic() >= deadline:
            raise FetchError("The page took too long to arrive.") from None
        raise FetchError("The connection broke while the page was arriving.") from None
    return b"".join(chunks)


def parse_content_type(value):
    kind, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, val = param.partition("=")
        if name.strip().lower() == "charset":
            charset = val.strip().strip("\"'").lower() or None
    return kind.strip().lower(), charset


def describe(accept):
    if accept == PAGE_TYPES:
        return "a web page"
    if accept == IMAGE_TYPES:
        return "an image"
    return "JSON"
