"""HTTPS: the fetcher connects to the checked address, yet TLS speaks to and verifies the host name."""

import datetime
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from liveblog import safefetch


def make_cert(name, issuer_key, issuer_name, key, ca=False):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Liveblog test CA")])
    ca_cert = make_cert("Liveblog test CA", ca_key, ca_name, ca_key, ca=True)
    (folder / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    key = ec.generate_private_key(ec.SECP256R1())
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (folder / "cert.pem").write_bytes(
        make_cert("secure.test", ca_key, ca_name, key).public_bytes(serialization.Encoding.PEM)
    )
    return folder


class Page(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        data = f"<html><head><title>Host {self.headers.get('Host')}</title></head></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def tls_server(pki, settings):
    server_names = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "cert.pem", pki / "key.pem")
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.handle_error = lambda request, address: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    settings.LINKCARD_FETCH_ALLOW_LOOPBACK = {port}
    settings.LINKCARD_FETCH_ALLOWED_PORTS = [port]
    settings.LINKCARD_FETCH_CA_CERTS = str(pki / "ca.pem")
    settings.LINKCARD_FETCH_STATIC_HOSTS = {"secure.test": ["127.0.0.1"], "impostor.test": ["127.0.0.1"]}
    yield port, server_names
    server.shutdown()
    server.server_close()


def test_https_sends_the_host_name_and_verifies_its_certificate(tls_server, connects):
    port, server_names = tls_server
    fetched = safefetch.fetch(f"https://secure.test:{port}/")
    assert f"Host secure.test:{port}".encode() in fetched.body
    assert server_names == ["secure.test"]  # SNI carries the name, not the address
    assert connects == [("127.0.0.1", port)]


def test_https_refuses_a_certificate_for_another_name(tls_server):
    port, server_names = tls_server
    with pytest.raises(safefetch.FetchError, match="could not be verified"):
        safefetch.fetch(f"https://impostor.test:{port}/")
    assert server_names == ["impostor.test"]


def test_https_refuses_an_untrusted_certificate(tls_server, settings):
    port, _ = tls_server
    settings.LINKCARD_FETCH_CA_CERTS = None  # the system's trust store does not know our test CA
    with pytest.raises(safefetch.FetchError, match="could not be verified"):
        safefetch.fetch(f"https://secure.test:{port}/")
