import socket

import pytest
from pytest_socket import SocketBlockedError


@pytest.mark.filterwarnings("ignore:A test tried to use socket:UserWarning")
def test_unit_tests_cannot_open_sockets() -> None:
    # GIVEN a unit test WHEN it opens a network socket THEN pytest-socket refuses it
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(("127.0.0.1", 9))
