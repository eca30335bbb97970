import socket

import pytest
from pytest_socket import SocketBlockedError


def test_unit_tests_cannot_open_sockets() -> None:
    # GIVEN a unit test WHEN it opens a network socket THEN pytest-socket refuses it
    with pytest.raises(SocketBlockedError):
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)
