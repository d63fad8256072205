#!/usr/bin/env python3
"""Where a boot's guest time goes: a sampling profiler over QEMU's gdb stub.

    tools/profiler.py --cmdline "selftest=bench bench=full bench_row=all_4k"
    tools/profiler.py --smp 1 --cpu qemu64 --hz 200 --top 40 --cmdline ...

It boots the kernel paused (tools/qemu_run.py --gdb), lets it run, and
every 1/HZ seconds stops every CPU, reads each CPU's RIP and follows its
frame-pointer chain (the kernel is built with -fno-omit-frame-pointer),
then lets it run again.  At the end it prints, over all samples of all
CPUs, each function's share: "self" where the CPU was executing, "total"
where the function was anywhere on the stack.  A CPU parked in hlt or
spinning in a wait shows up as such: that is time too.

Stopping the machine costs host time, so the guest runs a little slower
while it is sampled; the shares, not the clock, are the result.  Facts of
the stub used here (QEMU's gdbstub, the GDB remote protocol): "\\x03"
stops every vCPU; "qfThreadInfo" lists them; "Hg" selects one for "g"
(registers "g": RBP is the 7th, RIP the 17th on x86-64) and "m" (memory, through that
CPU's page tables).
"""
from __future__ import annotations

import argparse
import bisect
import collections
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qemu_run  # noqa: E402

REG_RBP, REG_RIP = 6, 16
MAX_DEPTH = 24


class Stub:
    """The few GDB remote protocol requests the sampler needs."""

    def __init__(self, port: int, wait: float = 20.0):
        deadline = time.monotonic() + wait
        while True:
            try:
                self.sock = socket.create_connection(("localhost", port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.buf = b""
        self.request("QStartNoAckMode", ack=True)

    def _recv_packet(self, ack: bool) -> str:
        while True:
            start = self.buf.find(b"$")
            end = self.buf.find(b"#", start) if start >= 0 else -1
            if start >= 0 and end >= 0 and len(self.buf) >= end + 3:
                data = self.buf[start + 1:end]
                self.buf = self.buf[end + 3:]
                if ack:
                    self.sock.sendall(b"+")
                return data.decode("latin-1")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the stub closed the connection")
            self.buf += chunk

    def send(self, data: str) -> None:
        body = data.encode("latin-1")
        self.sock.sendall(b"$%s#%02x" % (body, sum(body) & 0xFF))

    def request(self, data: str, ack: bool = False) -> str:
        self.send(data)
        return self._recv_packet(ack)

    def interrupt(self) -> str:
        self.sock.sendall(b"\x03")
        return self._recv_packet(False)

    def threads(self) -> list[str]:
        ids, reply = [], self.request("qfThreadInfo")
        while reply.startswith("m"):
            ids += reply[1:].split(",")
            reply = self.request("qsThreadInfo")
        return ids

    def regs(self) -> list[int]:
        """The 64-bit registers of "g": 16 GPRs, then RIP."""
        raw = bytes.fromhex(self.request("g")[:17 * 16])
        return [int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw), 8)]

    def read_u64s(self, addr: int, count: int) -> list[int] | None:
        reply = self.request(f"m{addr:x},{8 * count:x}")
        if reply.startswith("E") or len(reply) != 16 * count:
            return None
        raw = bytes.fromhex(reply)
        return [int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw), 8)]


def symbols(elf: Path) -> tuple[list[int], list[str]]:
    out = subprocess.run(["nm", "-n", "--defined-only", str(elf)],
                         capture_output=True, text=True, check=True).stdout
    addrs, names = [], []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            addrs.append(int(parts[0], 16))
            names.append(parts[2])
    return addrs, names


def stack_of(stub: Stub, kernel_base: int) -> list[int]:
    """RIP, then the return addresses up the frame-pointer chain."""
    regs = stub.regs()
    pcs, rbp = [regs[REG_RIP]], regs[REG_RBP]
    for _ in range(MAX_DEPTH):
        if rbp < 0xFFFF800000000000 or rbp & 7:
            break
        frame = stub.read_u64s(rbp, 2)
        if not frame or frame[1] < kernel_base:
            break
        pcs.append(frame[1] - 1)      # inside the call instruction
        if frame[0] <= rbp:
            break
        rbp = frame[0]
    return pcs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cmdline", required=True, help="kernel options")
    ap.add_argument("--kernel", type=Path, default=qemu_run.KERNEL)
    ap.add_argument("--smp", type=int, default=4)
    ap.add_argument("--cpu", default="max")
    ap.add_argument("--hz", type=float, default=100.0, help="samples per second")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--under", help="count only samples with this function "
                    "on the stack")
    ap.add_argument("--callers", help="also print who called this function")
    ap.add_argument("--port", type=int, default=1240)
    ap.add_argument("--log", type=Path, default=qemu_run.BUILD / "profile.log")
    args = ap.parse_args(argv)

    qemu_run.KERNEL = args.kernel.resolve()
    addrs, names = symbols(args.kernel)
    kernel_base = min(a for a in addrs if a >= 0xFFFF800000000000)
    boot = qemu_run.Boot(smp=args.smp, cpu=args.cpu, cmdline=args.cmdline,
                         gdb=True, gdb_port=args.port)
    result: list[qemu_run.Outcome] = []
    runner = threading.Thread(target=lambda: result.append(
        qemu_run.run(boot, args.log, None, echo=False)))
    runner.start()

    selfc: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    callers: collections.Counter[str] = collections.Counter()
    samples = 0

    def name(pc: int) -> str:
        i = bisect.bisect_right(addrs, pc) - 1
        return names[i] if i >= 0 else f"{pc:#x}"

    try:
        stub = Stub(args.port)
        threads = stub.threads()
        stub.send("c")
        while True:
            time.sleep(1.0 / args.hz)
            stub.interrupt()
            for tid in threads:
                stub.request(f"Hg{tid}")
                stack = [name(pc) for pc in stack_of(stub, kernel_base)]
                if args.under and args.under not in stack:
                    continue
                if args.callers in stack:
                    at = stack.index(args.callers)
                    callers[" <- ".join(stack[at + 1:at + 3])] += 1
                selfc[stack[0]] += 1
                for fn in set(stack):
                    total[fn] += 1
                samples += 1
            stub.send("c")
    except (EOFError, OSError):
        pass
    runner.join()
    outcome = result[0] if result else None
    print(f"profile: {samples} CPU samples; boot: "
          f"{outcome.message if outcome else '?'}; log {args.log}")
    print(f"{'self %':>7} {'total %':>8}  function")
    rows = sorted(set(selfc) | set(total), key=lambda f: (-selfc[f], -total[f]))
    for fn in rows[:args.top]:
        print(f"{100 * selfc[fn] / max(samples, 1):7.1f} "
              f"{100 * total[fn] / max(samples, 1):8.1f}  {fn}")
    print("\nby total:")
    for fn, n in total.most_common(args.top):
        print(f"{100 * n / max(samples, 1):8.1f}  {fn}")
    if args.callers:
        print(f"\ncallers of {args.callers} (its caller <- that one's):")
        for fn, n in callers.most_common(args.top):
            print(f"{100 * n / max(samples, 1):8.1f}  {fn}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
