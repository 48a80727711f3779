"""An HTTP GET of ADDR:PORT/PATH with the connect done the way MODE says, timed: how a program sees a connect that
the shim races across stack instances (tests/preload/shim_race_test.cpp).

    race_client.py MODE ADDR PORT PATH
      blocking   socket.connect on a blocking socket (no timeout: the plain blocking call)
      select     non-blocking connect_ex, then select() for writability, then SO_ERROR
      poll       the same with poll()
      epoll      non-blocking connect_ex, *then* registered with epoll (EPOLLOUT), as event loops do
      asyncio    asyncio.open_connection
      nodelay    as select, with TCP_NODELAY set right after connect_ex returned EINPROGRESS (as libuv does);
                 prints nodelay= as read back once connected
      refused    (PATH ignored: nothing listens at PORT) a non-blocking and a blocking connect; prints the errno each
                 got: nonblocking_errno= (SO_ERROR after select), blocking_errno=; exits 0 if both were refused
      many       (PATH fetched N=20 times) non-blocking connect_ex + epoll, each connection used at once: prints ok=N

Prints key=value facts — connect_s (the connect's wall time), http_status (the answer's status code), error — and exits 0
when the GET got a 200 answer, 1 otherwise.
"""
import asyncio
import select
import socket
import sys
import time


def request(path):
    return f"GET {path} HTTP/1.0\r\nHost: race\r\n\r\n".encode()


def finish_get(s, path):
    s.setblocking(True)
    s.settimeout(10)
    s.sendall(request(path))
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


def wait_writable(s, mode):
    if mode == "select":
        _, writable, _ = select.select([], [s], [], 10)
        return bool(writable)
    if mode == "poll":
        p = select.poll()
        p.register(s.fileno(), select.POLLOUT)
        return bool(p.poll(10_000))
    ep = select.epoll()
    ep.register(s.fileno(), select.EPOLLOUT)
    events = ep.poll(10)
    ep.close()
    return bool(events)


def sync_case(mode, addr, port, path):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    started = time.monotonic()
    if mode == "blocking":
        s.connect((addr, port))
    else:
        s.setblocking(False)
        err = s.connect_ex((addr, port))
        if err not in (0, 115):  # EINPROGRESS
            raise OSError(err, "connect_ex")
        if mode == "nodelay":
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not wait_writable(s, "select" if mode == "nodelay" else mode):
            raise TimeoutError("not writable within 10 s")
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, "connect")
    print(f"connect_s={time.monotonic() - started:.3f}")
    if mode == "nodelay":
        print(f"nodelay={s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)}")
    return finish_get(s, path)


def refused_case(addr, port):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(family)
    s.setblocking(False)
    err = s.connect_ex((addr, port))
    if err == 115:
        select.select([], [s], [], 10)
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    print(f"nonblocking_errno={err}")
    s.close()
    b = socket.socket(family)
    blocking_err = b.connect_ex((addr, port))
    print(f"blocking_errno={blocking_err}")
    return err == 111 and blocking_err == 111  # ECONNREFUSED


def many_case(addr, port, path, n=20):
    ok = 0
    ep = select.epoll()
    for _ in range(n):
        s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
        s.setblocking(False)
        s.connect_ex((addr, port))
        ep.register(s.fileno(), select.EPOLLOUT)
        ep.poll(10)
        ep.unregister(s.fileno())
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            ok += finish_get(s, path).split(" ")[1:2] == ["200"]
    print(f"ok={ok}")
    return ok == n


async def asyncio_case(addr, port, path):
    started = time.monotonic()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(addr, port), 10)
    print(f"connect_s={time.monotonic() - started:.3f}")
    writer.write(request(path))
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


def main():
    mode, addr, port, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if mode in ("refused", "many"):
        good = refused_case(addr, port) if mode == "refused" else many_case(addr, port, path)
        sys.exit(0 if good else 1)
    try:
        status = asyncio.run(asyncio_case(addr, port, path)) if mode == "asyncio" else sync_case(mode, addr, port, path)
    except Exception as err:  # the test reads it
        print(f"error={type(err).__name__}: {err}")
        sys.exit(1)
    code = status.split(" ")[1] if status.count(" ") >= 1 else "none"
    print(f"http_status={code}")
    sys.exit(0 if code == "200" else 1)


if __name__ == "__main__":
    main()
