"""Shared test fixtures: no network, seeded RNGs, the path to the shared real data."""

from __future__ import annotations

import os
import random
import socket

import numpy as np
import pytest
import torch

from data_loaders.shared import shared_dir

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)  # one thread per xdist worker: no oversubscription of the cores


class NetworkBlocked(RuntimeError):
    """Raised when a test tries to open a network connection."""


def _blocked(*args, **kwargs):
    raise NetworkBlocked("tests must not touch the network (blocked in tests/conftest.py)")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Block every outgoing connection at the socket level (AF_UNIX stays open for local IPC)."""
    real_connect = socket.socket.connect

    def guarded_connect(self, address):
        if self.family == socket.AF_UNIX:
            return real_connect(self, address)
        if isinstance(address, tuple) and address and address[0] in ("127.0.0.1", "localhost", "::1"):
            return real_connect(self, address)  # local clusters (dask LocalCluster) are allowed
        _blocked()

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: (
        real_create(address, *a, **k) if address[0] in ("127.0.0.1", "localhost", "::1") else _blocked()))
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)


real_create = socket.create_connection
_real_getaddrinfo = socket.getaddrinfo


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host in (None, "127.0.0.1", "localhost", "::1", "0.0.0.0", "") or str(host).startswith("127."):
        return _real_getaddrinfo(host, *args, **kwargs)
    _blocked()


@pytest.fixture(autouse=True)
def seeded():
    """Every test starts from the same random state."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def shared():
    """The shared real-data folder; tests that need it skip with a reason when it is absent."""
    root = shared_dir()
    if root is None:
        pytest.skip("real data folder ../shared (or $COGVISION_SHARED) is absent")
    return root


def pytest_addoption(parser):
    parser.addoption("--device", default="cpu",
                     help="device for tests/test_devices.py (e.g. cuda): each check there runs on it against CPU")


@pytest.fixture(scope="session")
def device(request):
    """The device that tests/test_devices.py compares against CPU (``pytest --device cuda``; default cpu)."""
    from cogvision.device import resolve_device

    return resolve_device(request.config.getoption("--device"))
