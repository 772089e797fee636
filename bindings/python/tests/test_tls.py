"""rediss:// through the binding: a URL, or redis-py's host/port with ssl=True and the tls_* keywords."""
import os
import subprocess

import pytest
import redis

import libredlock
from libredlock import ConnectionError, InvalidArgumentError

from conftest import _free_port


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tls"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def sh(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for ca in ("ca", "other-ca"):
        sh("req", "-x509", *ec, "-keyout", os.path.join(d, ca + ".key"), "-out", os.path.join(d, ca + ".crt"),
           "-days", "2", "-subj", "/CN=" + ca)
    sh("req", *ec, "-keyout", os.path.join(d, "server.key"), "-out", os.path.join(d, "server.csr"), "-subj", "/CN=s")
    sh("x509", "-req", "-in", os.path.join(d, "server.csr"), "-CA", os.path.join(d, "ca.crt"), "-CAkey",
       os.path.join(d, "ca.key"), "-CAcreateserial", "-out", os.path.join(d, "server.crt"), "-days", "2",
       "-extfile", os.path.join(d, "ext"))
    return d


@pytest.fixture(scope="module")
def tls_server(certs, make_server_module):
    port = _free_port()
    s = make_server_module("--tls-port", str(port), "--tls-cert-file", os.path.join(certs, "server.crt"),
                           "--tls-key-file", os.path.join(certs, "server.key"), "--tls-ca-cert-file",
                           os.path.join(certs, "ca.crt"), "--tls-auth-clients", "no")
    s.tls_port = port
    return s


def test_locks_over_tls_by_url_and_by_keywords(certs, tls_server):
    ca = os.path.join(certs, "ca.crt")
    plain = redis.Redis(port=tls_server.port)
    for client in (libredlock.Client.from_url("rediss://127.0.0.1:%d?tls_ca_file=%s" % (tls_server.tls_port, ca)),
                   libredlock.Client(host="localhost", port=tls_server.tls_port, ssl=True, tls_ca_file=ca)):
        assert client.ping()
        lock = client.lock("py-tls", timeout=10)
        assert lock.acquire()
        assert plain.get("py-tls") == lock.token  # the same key, seen by redis-py on the plain port
        lock.release()
        client.close()


def test_tls_errors_are_clear(certs, tls_server):
    other = os.path.join(certs, "other-ca.crt")
    c = libredlock.Client.from_url("rediss://127.0.0.1:%d" % tls_server.tls_port, tls_ca_file=other,
                                   connect_timeout=2)
    with pytest.raises(ConnectionError, match="not trusted"):
        c.ping()
    c = libredlock.Client(port=tls_server.tls_port, ssl=True, tls_ca_file=os.path.join(certs, "ca.crt"),
                          tls_server_name="redis.example.com", connect_timeout=2)
    with pytest.raises(ConnectionError, match="is not for 'redis.example.com'"):
        c.ping()
    assert libredlock.Client(port=tls_server.tls_port, ssl=True, tls_verify=False).ping()  # unsafe, but explicit
    with pytest.raises(InvalidArgumentError, match="rediss://"):
        libredlock.Client(port=tls_server.tls_port, tls_ca_file=other)  # TLS keywords without ssl=True
    with pytest.raises(TypeError):
        libredlock.Client("rediss://127.0.0.1:1", ssl=True)
    with pytest.raises(TypeError):
        libredlock.Client(port=1, ssl=True, tls_verify=0)


def test_redis_py_tls_keywords(certs, tls_server):
    ca = os.path.join(certs, "ca.crt")
    c = libredlock.Client(host="localhost", port=tls_server.tls_port, ssl=True, ssl_ca_certs=ca,
                          ssl_cert_reqs="required")
    assert c.ping()
    import ssl
    assert libredlock.Client(port=tls_server.tls_port, ssl=True, ssl_cert_reqs=ssl.CERT_NONE).ping()
    with pytest.raises(TypeError):
        libredlock.Client(port=1, ssl=True, ssl_ca_certs=ca, tls_ca_file=ca)  # the same setting twice
    with pytest.raises(InvalidArgumentError, match="ssl=True"):
        libredlock.Client(port=1, ssl_ca_certs=ca)
