#!/usr/bin/env python3
"""Turn the kernel's trace dump (a serial log) into a timeline.

    tools/timeline.py LOG --svg out.svg        one lane per CPU, for a browser
    tools/timeline.py LOG --json out.json      Chrome Trace Event Format, for
                                               Perfetto UI or chrome://tracing
    tools/timeline.py LOG --check-free-after-acks
                                               exit 1 unless every free of a
                                               shootdown follows its last ack

The dump is what trace_dump() prints (kernel/trace.h), between
"TRACE BEGIN" and "TRACE END", possibly as KTAP diagnostics ("    # T ...").
A log may hold several dumps; --dump N picks one for --svg and --json
(default: the last); the checker checks them all.  docs/trace.md explains
how to read the pictures.
"""

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import timeline_render  # noqa: E402  (after the path is set)

# The function every shootdown's IPI runs (mm/shootdown.c): how a call is
# told apart from the other cross-CPU calls of the same CPU.
SHOOTDOWN_FN = "shootdown_on_target"

PREFIX = re.compile(r"^\s*(?:#\s*)?")


@dataclass
class Event:
    cpu: int
    tsc: int
    name: str
    args: dict
    line: int                 # in the log, 1-based, for messages


@dataclass
class Dump:
    header: dict
    events: list = field(default_factory=list)
    footer: dict = field(default_factory=dict)
    line: int = 0

    @property
    def cpus(self) -> int:
        return int(self.header.get("cpus", 1 + max((e.cpu for e in self.events), default=0)))

    @property
    def hz(self) -> int:
        return int(self.header.get("hz", 1_000_000_000))


def value(text: str):
    """An argument: an int when it reads as one (0x hex or decimal)."""
    try:
        return int(text, 0)
    except ValueError:
        return text


def parse_args(tokens: list) -> dict:
    """key=value tokens; a token without '=' continues the previous value
    (text arguments may hold spaces)."""
    args, last = {}, None
    for tok in tokens:
        key, eq, val = tok.partition("=")
        if eq and key.isidentifier():
            args[key], last = val, key
        elif last is not None:
            args[last] += " " + tok
    return {k: value(v) for k, v in args.items()}


def parse(text: str) -> list:
    """Every dump in @text, in order."""
    dumps, current = [], None
    for n, raw in enumerate(text.splitlines(), 1):
        line = PREFIX.sub("", raw, count=1).rstrip()
        if line.startswith("TRACE BEGIN"):
            current = Dump(parse_args(line.split()[2:]), line=n)
        elif current is None:
            continue
        elif line.startswith("TRACE END"):
            current.footer = parse_args(line.split()[2:])
            dumps.append(current)
            current = None
        elif line.startswith("T "):
            f = line.split()
            if len(f) >= 4 and f[1].isdigit() and f[2].isdigit():
                current.events.append(Event(int(f[1]), int(f[2]), f[3],
                                            parse_args(f[4:]), n))
    return dumps


# ---- what the events mean together ----

@dataclass
class Call:
    """A cross-CPU call: its send, and each target's receive and ack."""
    send: Event
    targets: list
    recv: dict = field(default_factory=dict)    # cpu -> Event
    ack: dict = field(default_factory=dict)     # cpu -> Event


@dataclass
class Shootdown:
    begin: Event
    calls: list = field(default_factory=list)
    all_acks: Event | None = None
    frees: list = field(default_factory=list)


def mask_cpus(mask: int) -> list:
    return [c for c in range(64) if mask >> c & 1]


def calls_of(dump: Dump) -> dict:
    """(caller, call id) -> Call."""
    calls = {}
    for e in dump.events:
        if e.name == "ipi_send":
            calls[(e.cpu, e.args.get("call"))] = Call(e, mask_cpus(e.args.get("mask", 0)))
        elif e.name in ("ipi_recv", "ack"):
            caller = e.args.get("from" if e.name == "ipi_recv" else "to")
            call = calls.get((caller, e.args.get("call")))
            if call:
                (call.recv if e.name == "ipi_recv" else call.ack)[e.cpu] = e
    return calls


def shootdowns_of(dump: Dump, calls: dict) -> dict:
    """(cpu, id) -> Shootdown.  A shootdown owns the shootdown calls its
    CPU sent after its sd_begin and before that CPU's next sd_begin."""
    sds, open_on = {}, {}
    for e in dump.events:
        if e.name == "sd_begin":
            sd = Shootdown(e)
            sds[(e.cpu, e.args.get("id"))] = open_on[e.cpu] = sd
        elif e.name == "ipi_send" and e.args.get("fn") == SHOOTDOWN_FN:
            if e.cpu in open_on:
                open_on[e.cpu].calls.append(calls[(e.cpu, e.args.get("call"))])
        elif e.name in ("all_acks", "free"):
            sd = sds.get((e.cpu, e.args.get("id")))
            if sd is None:
                sd = sds[(e.cpu, e.args.get("id"))] = Shootdown(None)
            if e.name == "all_acks":
                sd.all_acks = e
            else:
                sd.frees.append(e)
    return sds


def check_free_after_acks(dump: Dump) -> tuple:
    """(problems, shootdowns checked, frees checked) for one dump."""
    problems, nfrees = [], 0
    ns = 1e9 / dump.hz
    sds = shootdowns_of(dump, calls_of(dump))
    for (cpu, sid), sd in sorted(sds.items(), key=lambda kv: kv[0]):
        who = f"shootdown {sid} of CPU {cpu}"
        if sd.begin is None:
            if sd.frees:
                problems.append(f"{who}: free (line {sd.frees[0].line}) "
                                "without its sd_begin in the dump")
            continue
        if not sd.frees:
            continue
        if not sd.calls and dump.cpus > 1:
            problems.append(f"{who}: frees with no IPI to the other "
                            f"{dump.cpus - 1} CPUs (line {sd.begin.line})")
        for free in sd.frees:
            nfrees += 1
            for call in sd.calls:
                if call.send.tsc > free.tsc:
                    continue          # sent after this free: not its IPI
                for t in call.targets:
                    ack = call.ack.get(t)
                    if ack is None:
                        problems.append(
                            f"{who}: free at line {free.line} but CPU {t} "
                            f"never acknowledged call {call.send.args.get('call')}")
                    elif ack.tsc >= free.tsc:
                        problems.append(
                            f"{who}: free at tsc {free.tsc} (line {free.line}) "
                            f"comes {(ack.tsc - free.tsc) * ns:.0f} ns before "
                            f"CPU {t}'s ack at tsc {ack.tsc} (line {ack.line})")
    return problems, sum(1 for sd in sds.values() if sd.begin and sd.frees), nfrees


def run_check(dumps: list, out=None) -> int:
    """Check every dump, print a line for each; 0 when all passed."""
    out = out or sys.stdout
    if not dumps:
        print("timeline: no trace dump (TRACE BEGIN ... TRACE END) in the log",
              file=out)
        return 1
    failed = 0
    for n, dump in enumerate(dumps):
        problems, nsd, nfree = check_free_after_acks(dump)
        where = f"dump {n} (line {dump.line})"
        if dump.footer.get("lost") or dump.footer.get("wrapped"):
            print(f"timeline: {where}: warning: records lost "
                  f"({dump.footer}); the check sees only what is left", file=out)
        for p in problems:
            print(f"timeline: {where}: {p}", file=out)
        if problems:
            failed += 1
        else:
            print(f"timeline: {where}: ok: {nsd} shootdowns, {nfree} frees, "
                  "each after every ack of its shootdown", file=out)
    return 1 if failed else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log", type=Path, help="serial log holding a trace dump")
    ap.add_argument("--svg", type=Path, help="write an SVG timeline here")
    ap.add_argument("--json", type=Path, help="write Chrome Trace Event JSON here")
    ap.add_argument("--dump", type=int, default=-1,
                    help="which dump of the log to draw (0 = first; default last)")
    ap.add_argument("--title", default=None, help="the SVG's title")
    ap.add_argument("--check-free-after-acks", action="store_true",
                    help="fail unless each shootdown's frees follow its last ack")
    args = ap.parse_args(argv)
    dumps = parse(args.log.read_text(errors="replace"))
    status = 0
    if args.check_free_after_acks:
        status = run_check(dumps)
    if args.svg or args.json:
        if not dumps:
            print(f"timeline: no trace dump in {args.log}", file=sys.stderr)
            return 1
        dump = dumps[args.dump]
        sds = shootdowns_of(dump, calls := calls_of(dump))
        if args.svg:
            args.svg.write_text(timeline_render.svg(
                dump, calls, sds, args.title or args.log.name))
        if args.json:
            args.json.write_text(timeline_render.chrome_json(dump, calls, sds))
    return status


if __name__ == "__main__":
    sys.exit(main())
