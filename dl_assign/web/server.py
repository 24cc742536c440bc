"""Run the app on uvicorn: in the foreground (``dl-assign serve``), in a thread (tests, screenshots)
or as a child process that exits when its parent goes (the load benchmark).

``python -m dl_assign.web.server --store DIR --port N [--exit-with-stdin]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

LOOPBACK = "127.0.0.1"


def _json_h11_protocol():
    """uvicorn's h11 protocol, answering a malformed request (``Content-Length: abc``, a bad header line,
    a body longer than declared) with the API's JSON error naming h11's reason, not plain text."""
    import json

    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class JsonErrorH11Protocol(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            next_event = self.conn.next_event
            self._reason = ""

            def remember():
                try:
                    return next_event()
                except h11.RemoteProtocolError as exc:
                    self._reason = str(exc)
                    raise

            self.conn.next_event = remember

        def send_400_response(self, msg: str) -> None:
            reason = self._reason or msg
            body = json.dumps({"error": f"malformed HTTP request: {reason}", "status": 400}).encode()
            headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
            try:
                self.transport.write(self.conn.send(h11.Response(status_code=400, headers=headers,
                                                                 reason=b"Bad Request")))
                self.transport.write(self.conn.send(h11.Data(data=body)))
                self.transport.write(self.conn.send(h11.EndOfMessage()))
            except h11.LocalProtocolError:  # the connection state forbids a response: just close
                pass
            self.transport.close()

    return JsonErrorH11Protocol


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(store_root: str | Path | None = None, *, host: str = LOOPBACK, timeout: float = 30.0,
            **app_kwargs) -> Iterator[str]:
    """``with running(store) as url:`` the app served from a daemon thread on a free port; stops on exit."""
    import uvicorn

    from dl_assign.web.app import create_app

    config = uvicorn.Config(create_app(store_root, **app_kwargs), host=host, port=0, log_level="warning",
                            lifespan="on", http=_json_h11_protocol())
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="dl-assign-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the web server did not start within {timeout:.0f} s")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def serve(store_root: str | Path | None = None, host: str = LOOPBACK, port: int = 8000, *, workers: int = 2,
          threads: int = 1, **app_kwargs) -> None:
    """Serve in the foreground until Ctrl-C.

    ``workers`` inferences run at once, each on ``threads`` torch threads. The default 2 x 1 suits
    batch-1 requests on 2 cores: two requests in parallel, and no OpenMP barrier spinning against a
    busy core (one request on 2 threads stalls whenever another process holds a core).
    """
    if host not in (LOOPBACK, "localhost", "::1"):  # first: before seconds of imports
        print(f"WARNING: serving on {host}: the server has no authentication; anyone who can reach "
              f"{host}:{port} can use it", file=sys.stderr, flush=True)
    import torch
    import uvicorn

    from dl_assign.web.app import create_app

    torch.set_num_threads(threads)  # this process serves only: the entry point owns its thread count
    uvicorn.run(create_app(store_root, inference_workers=workers, **app_kwargs), host=host, port=port,
                log_level="info", http=_json_h11_protocol())


def _exit_when_stdin_closes() -> None:
    """The parent holds our stdin open; when it dies (even by SIGKILL) the pipe closes and we exit."""
    try:
        while sys.stdin.buffer.read(1 << 16):
            pass
    finally:
        os._exit(0)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m dl_assign.web.server")
    p.add_argument("--store", default=None)
    p.add_argument("--host", default=LOOPBACK)
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=2, help="inferences at once")
    p.add_argument("--threads", type=int, default=1, help="torch threads per inference")
    p.add_argument("--exit-with-stdin", action="store_true", help="exit when stdin closes (parent gone)")
    args = p.parse_args(argv)
    if args.exit_with_stdin:
        threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
    serve(args.store, args.host, args.port, workers=args.workers, threads=args.threads)


if __name__ == "__main__":
    main()
