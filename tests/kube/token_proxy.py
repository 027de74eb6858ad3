#!/usr/bin/env python3
"""A plain-HTTP proxy that adds `Authorization: Bearer TOKEN` to every request.

kubectl never sends a token to an http:// server; until the API server serves HTTPS, the
kubectl tests point kubectl at this proxy on loopback. Each request gets `Connection: close`
so that every request on a connection carries the token.

usage: token_proxy.py LISTEN_PORT UPSTREAM_PORT TOKEN_FILE
"""
import socket
import sys
import threading


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(client, upstream_port, token):
    head = b""
    while b"\r\n\r\n" not in head:
        data = client.recv(65536)
        if not data:
            client.close()
            return
        head += data
    head, rest = head.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    kept = [l for l in lines[1:] if not l.lower().startswith((b"authorization:", b"connection:"))]
    lines = [lines[0]] + kept + [b"Authorization: Bearer " + token, b"Connection: close"]
    upstream = socket.create_connection(("127.0.0.1", upstream_port))
    upstream.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + rest)
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    pipe(upstream, client)


def main():
    port, upstream_port, token_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    token = open(token_file).read().strip().encode()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)
    print(f"listening on {srv.getsockname()[1]}", flush=True)
    while True:
        client, _ = srv.accept()
        threading.Thread(target=handle, args=(client, upstream_port, token), daemon=True).start()


if __name__ == "__main__":
    main()
