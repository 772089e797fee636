"""A private redis-server on a free loopback port in a temp dir for the whole session; never port 6379."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis

import libredlock


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, extra=(), config=None):
        self.dir = tempfile.mkdtemp(prefix="redlock-pytest-")
        conf = []
        if config is not None:  # a sentinel needs a config file (it rewrites it)
            conf = [os.path.join(self.dir, "redis.conf")]
            with open(conf[0], "w") as f:
                f.write(config)
        for _ in range(5):
            self.port = _free_port()
            self.proc = subprocess.Popen(
                ["redis-server", *conf, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", self.dir, "--logfile", os.path.join(self.dir, "redis.log"), *extra],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            r = redis.Redis(port=self.port)
            for _ in range(200):
                if self.proc.poll() is not None:
                    break
                try:
                    r.ping()
                except redis.exceptions.AuthenticationError:
                    pass  # it answers, with --requirepass
                except redis.exceptions.ConnectionError:
                    time.sleep(0.02)
                    continue
                self.url = "redis://127.0.0.1:%d/0" % self.port
                return
            self.proc.kill()
            self.proc.wait()
        raise RuntimeError("redis-server did not start")

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def server():
    s = Server()
    yield s
    s.stop()


def _server_maker():
    started = []

    def make(*extra, config=None):
        started.append(Server(extra, config))
        return started[-1]

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def make_server():
    """More private servers, each with its own options (e.g. "--requirepass", "pw"), stopped after the test."""
    yield from _server_maker()


@pytest.fixture(scope="module")
def make_server_module():
    """The same, stopped after the test module (a server several tests share, e.g. one with a TLS port)."""
    yield from _server_maker()


@pytest.fixture
def r(server):
    """redis-py on the same server, for looking at keys and for interop."""
    client = redis.Redis(port=server.port)
    client.flushdb()
    return client


@pytest.fixture
def client(server, r):
    c = libredlock.Client.from_url(server.url)
    yield c
    c.close()
