"""Python clients that register a socket for events *before* connecting it, as nginx and many event loops do.

    register_before_connect.py epoll ADDR PORT     the reproduction of issue 11: select.epoll, EPOLLOUT|EPOLLET,
                                                   then connect_ex; prints the events the poll reported
    register_before_connect.py asyncio ADDR PORT N N asyncio connections, each registered with add_writer before
                                                   its connect_ex, then an echo on each

Prints key=value facts; exits 0 when every check held, 1 otherwise.
"""
import asyncio
import select
import socket
import sys


def epoll_case(addr, port):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.setblocking(False)
    ep = select.epoll()
    ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLET)
    s.connect_ex((addr, port))
    events = ep.poll(3)
    print(f"events={events}")
    ok = any(fd == s.fileno() and mask & select.EPOLLOUT and not mask & select.EPOLLHUP for fd, mask in events)
    print(f"connected_event={int(ok)}")
    s.setblocking(True)
    s.sendall(b"hello")
    print(f"echo={int(s.recv(16) == b'hello')}")
    return ok


async def one_connection(loop, addr, port, i):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.setblocking(False)
    writable = loop.create_future()
    loop.add_writer(s.fileno(), lambda: writable.done() or writable.set_result(True))
    err = s.connect_ex((addr, port))
    if err not in (0, 115):  # EINPROGRESS
        raise OSError(err, "connect_ex")
    await asyncio.wait_for(writable, 5)
    loop.remove_writer(s.fileno())
    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err:
        raise OSError(err, "connect")
    message = f"message {i}".encode()
    await loop.sock_sendall(s, message)
    got = b""
    while len(got) < len(message):
        chunk = await asyncio.wait_for(loop.sock_recv(s, 64), 5)
        if not chunk:
            break
        got += chunk
    s.close()
    return got == message


async def asyncio_case(addr, port, n):
    loop = asyncio.get_running_loop()
    results = await asyncio.gather(*(one_connection(loop, addr, port, i) for i in range(n)), return_exceptions=True)
    good = sum(1 for r in results if r is True)
    print(f"good={good}")
    for r in results:
        if r is not True:
            print(f"failure={r!r}")
    return good == n


def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "epoll":
        ok = epoll_case(addr, port)
    else:
        ok = asyncio.run(asyncio_case(addr, port, int(sys.argv[4])))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
