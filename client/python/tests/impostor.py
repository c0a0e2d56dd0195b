"""impostor.py - a fake hmacd for test_peer.py: what a local user who squats the socket path
runs. It answers OK to every verify request (and pong to ping), and reports on stdout how many
bytes it received on each connection, once the client has closed it.

    python3 impostor.py PATH [UID]

With UID (run as root), it drops to that user (its primary group, no supplementary groups)
before binding PATH, so the kernel records that uid as the server's. Prints "listening" once
it accepts connections, then "bytes N" as each connection ends, one at a time.
"""

import os
import pwd
import socket
import struct
import sys

import msgpack


def frame(obj):
    payload = msgpack.packb(obj, use_bin_type=True)
    return struct.pack(">I", len(payload)) + payload


def answer(req):
    if req.get("op") == "verify":
        return {"id": req["id"], "results": [0] * len(req["items"])}  # 0: OK
    return {"id": req["id"], "pong": True}


def serve(conn):
    """Answers every whole frame; returns the bytes received once the client closes."""
    buf, total = b"", 0
    while True:
        chunk = conn.recv(1 << 16)
        if not chunk:
            return total
        total += len(chunk)
        buf += chunk
        while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
            end = 4 + struct.unpack(">I", buf[:4])[0]
            conn.sendall(frame(answer(msgpack.unpackb(buf[4:end], raw=False))))
            buf = buf[end:]


def main():
    path = sys.argv[1]
    if len(sys.argv) > 2:
        uid = int(sys.argv[2])
        os.setgroups([])
        os.setgid(pwd.getpwuid(uid).pw_gid)
        os.setuid(uid)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    print("listening", flush=True)
    while True:
        conn, _ = listener.accept()
        with conn:
            n = serve(conn)
        print("bytes %d" % n, flush=True)


if __name__ == "__main__":
    main()
