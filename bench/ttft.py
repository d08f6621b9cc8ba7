#!/usr/bin/env python3
"""Time to first token: through ragd, and straight from the upstream LLM.

usage: ttft.py RAGD_HOST:PORT LLM_HOST:PORT N

Sends N streamed requests one at a time to each, timing raw socket reads:
- upstream: POST /v1/chat/completions (stream) to the LLM; TTFT is from the
  request to the first content delta;
- ragd: POST /search with stream: true; ragd's LLM call starts when it sends
  the contexts event, so its token latency is from that event to the first
  token event.
Prints p50/p99 of both and the difference of the medians: what ragd adds
between the LLM's first token and the client's.
"""
import json
import socket
import sys
import time


def timed_stream(addr, path, body, markers):
    """Send a POST and return {marker: seconds after sending} for each marker."""
    host, port = addr.rsplit(":", 1)
    payload = json.dumps(body).encode()
    req = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n").encode() + payload
    seen, buf = {}, b""
    with socket.create_connection((host, int(port))) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.perf_counter()
        s.sendall(req)
        while len(seen) < len(markers):
            data = s.recv(65536)
            if not data:
                break
            now = time.perf_counter()
            buf += data
            for m in markers:
                if m not in seen and m.encode() in buf:
                    seen[m] = now - t0
    return seen


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p * len(v)))]


def main(argv):
    ragd, llm, n = argv[1], argv[2], int(argv[3])
    up, through = [], []
    chat = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "volcano lava"}]}
    for _ in range(n):
        t = timed_stream(llm, "/v1/chat/completions", chat, ['"content"'])
        up.append(t['"content"'] * 1000)
    search = {"query": "volcano lava", "stream": True, "k": 5, "sources": ["kb"]}
    for _ in range(n):
        t = timed_stream(ragd, "/search", search, ["event: contexts", "event: token"])
        through.append((t["event: token"] - t["event: contexts"]) * 1000)
    print(f"upstream TTFT          p50 {pct(up, .5):7.3f} ms  p99 {pct(up, .99):7.3f} ms  (n={n})")
    print(f"ragd contexts->token   p50 {pct(through, .5):7.3f} ms  p99 {pct(through, .99):7.3f} ms  (n={n})")
    print(f"added by ragd          p50 {pct(through, .5) - pct(up, .5):7.3f} ms  "
          f"p99 {pct(through, .99) - pct(up, .99):7.3f} ms")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
