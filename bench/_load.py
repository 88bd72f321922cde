"""Load generators for bench/http.py: wrk when installed, else a small asyncio one.

Both answer the same ``Run``: requests, seconds, req/s, p50/p99 latency, non-2xx answers,
socket errors, and (for POST bodies read from a file) whether the bodies ran out.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

WRK = shutil.which("wrk") or ("/usr/bin/wrk" if os.path.exists("/usr/bin/wrk") else None)


@dataclass
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int = 0
    socket_errors: int = 0
    bodies_ran_out: bool = False
    samples: list[str] = field(default_factory=list)  # a few non-2xx answers

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# Every thread counts its own answers; done() adds them up (threads are separate Lua states).
_WRK_COMMON = r"""
local threads = {}
local next_id = 0
setup = function(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
non2xx = 0
sample = ""
response = function(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if #sample < 600 then sample = sample .. status .. " " .. string.sub(body or "", 1, 180) .. "\n" end
  end
end
done = function(summary, latency, requests)
  local bad, out, samples = 0, 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
    if thread:get("ran_out") then out = out + 1 end
    samples = samples .. thread:get("sample")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non2xx":%d,'
    .. '"socket_errors":%d,"ran_out":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), bad,
    e.connect + e.read + e.write + e.timeout, out))
  io.write("WRKSAMPLES " .. samples:gsub("\n", "\\n") .. "\n")
end
"""

_WRK_BODIES = r"""
ran_out = false
init = function(args)
  local file, nthreads, path = args[1], tonumber(args[2]), args[3]
  requests_ = {}
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == id then
      local tab = string.find(line, "\t", 1, true)
      local headers = {["Content-Type"] = "application/json",
                       ["Authorization"] = "Bearer " .. string.sub(line, 1, tab - 1)}
      table.insert(requests_, wrk.format("POST", path, headers, string.sub(line, tab + 1)))
    end
    i = i + 1
  end
  index = 0
end
request = function()
  index = index + 1
  if index > #requests_ then
    index = 1
    ran_out = true
  end
  return requests_[index]
end
"""


def wrk(url: str, connections: int, seconds: float, headers: dict[str, str] | None = None,
        bodies: Path | None = None, threads: int = 2) -> Run:
    """``wrk -t2 -cN -dS`` against ``url``; with ``bodies`` (lines ``token<TAB>json``) every
    request is a POST of the next line, each line sent once until they run out."""
    script = _WRK_COMMON + (_WRK_BODIES if bodies else "")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    command = [WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
               "-s", lua.name]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    if bodies:
        command += ["--", str(bodies), str(threads), urlsplit(url).path]
    try:
        output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(lua.name)
    line = next((line for line in output.splitlines() if line.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary:\n{output}")
    data = json.loads(line[len("WRKJSON "):])
    samples = next((line[len("WRKSAMPLES "):] for line in output.splitlines()
                    if line.startswith("WRKSAMPLES ")), "")
    return Run(requests=data["requests"], seconds=data["duration_us"] / 1e6,
               p50_ms=data["p50_us"] / 1000, p99_ms=data["p99_us"] / 1000,
               non_2xx=data["non2xx"], socket_errors=data["socket_errors"],
               bodies_ran_out=data["ran_out"] > 0,
               samples=[s for s in samples.split("\\n") if s][:5])


# --- the bundled generator: asyncio, raw sockets, HTTP/1.1 keep-alive -----------------

async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in fields:
        body = await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = b""
    return status, body


async def _client(host: str, port: int, payloads: list[bytes], deadline: float,
                  latencies: list[float], run: Run, once_each: bool) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    index = 0
    try:
        while time.monotonic() < deadline:
            if index >= len(payloads):
                index = 0
                run.bodies_ran_out = once_each
            began = time.perf_counter()
            writer.write(payloads[index])
            index += 1
            try:
                status, body = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                run.socket_errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            latencies.append(time.perf_counter() - began)
            if not 200 <= status < 300:
                run.non_2xx += 1
                if len(run.samples) < 5:
                    run.samples.append(f"{status} {body[:180].decode(errors='replace')}")
    finally:
        writer.close()


def _payload(method: str, url: str, headers: dict[str, str], body: str = "") -> bytes:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    data = body.encode()
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", *(f"{k}: {v}" for k, v in headers.items())]
    if method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def python_load(url: str, connections: int, seconds: float, headers: dict[str, str] | None = None,
                bodies: Path | None = None) -> Run:
    """The same measurement as ``wrk`` without wrk (slower: it shares the CPU it measures)."""
    parts = urlsplit(url)
    if bodies:
        lines = bodies.read_text().splitlines()
        shares = [[_payload("POST", url, {**(headers or {}), "Authorization": f"Bearer {line.split(chr(9))[0]}"},
                            line.split("\t", 1)[1]) for line in lines[i::connections]]
                  for i in range(connections)]
    else:
        shares = [[_payload("GET", url, headers or {})]] * connections
    latencies: list[float] = []
    run = Run(requests=0, seconds=0, p50_ms=0, p99_ms=0)

    async def main() -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(_client(parts.hostname, parts.port, share, deadline, latencies, run,
                                       once_each=bodies is not None) for share in shares))

    began = time.monotonic()
    asyncio.run(main())
    run.seconds = time.monotonic() - began
    latencies.sort()
    run.requests = len(latencies)
    if latencies:
        run.p50_ms = latencies[len(latencies) // 2] * 1000
        run.p99_ms = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return run


def load(url: str, connections: int, seconds: float, headers: dict[str, str] | None = None,
         bodies: Path | None = None, use_wrk: bool = True) -> Run:
    if use_wrk and WRK:
        return wrk(url, connections, seconds, headers, bodies)
    return python_load(url, connections, seconds, headers, bodies)
