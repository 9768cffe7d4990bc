import socket
import urllib.request

import pytest

from tests.conftest import NetworkBlocked


def test_outgoing_connections_are_blocked():
    with pytest.raises(NetworkBlocked):
        urllib.request.urlopen("http://example.com", timeout=1)
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("93.184.216.34", 80), timeout=1)
