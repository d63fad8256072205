#!/usr/bin/env python3
"""Run SPIN on the shootdown model (tools/model/shootdown.pml), every
variant, and report.

    tools/model/run.py              `make model`: a table (verdict, states
                                    stored, depth, time per variant), then
                                    one counterexample as a per-CPU story
    tools/model/run.py --ktap       `make test`: one KTAP case per variant
                                    and one for the names check
    tools/model/run.py --trail NAME render NAME's counterexample only

A variant is the model compiled with its macros (-D).  The fixed protocol
must verify (no assertion fails, no invalid end state; the progress
property holds under weak fairness); every broken variant must yield a
counterexample of the kind named in VARIANTS -- a broken variant that
verifies is a failing case: the model no longer sees its bug.

Everything is built in build/model/<variant>/ (the .pml files copied
there, pan.c, pan, the trail); nothing is written into the source tree.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_names  # noqa: E402  (found through the line above)

MODEL_DIR = Path(__file__).resolve().parent
ROOT = MODEL_DIR.parents[1]
BUILD = ROOT / "build" / "model"
MODEL = "shootdown.pml"

# -O0: gcc takes about 1.7 s on pan.c at -O0 and 9 s at -O2, while the
# searches here take about as long either way (0.95 s against 0.88 s for
# "fixed").  -w: pan.c is generated, its warnings are not ours.  MEMLIM
# (MB) stops a model that grew by mistake before it eats the machine.
PAN_CFLAGS = ["-O0", "-w", "-DMEMLIM=1024"]
# Variants checked at once: the machine has two cores.
JOBS = 2
# Weak fairness needs pan to know the number of processes: 8 (init, the
# monitor, three CPUs, three IPI handlers) plus the never claim; NFAIR=4
# allows up to 12.
PROGRESS_CFLAGS = ["-DNFAIR=4"]


@dataclass
class Variant:
    name: str
    defines: list[str]
    expect: str            # "verified", or what the counterexample shows
    what: str
    progress: bool = False  # the LTL property under weak fairness
    in_test: bool = True    # also a `make test` case
    cflags: list[str] = field(default_factory=list)   # after PAN_CFLAGS


# expect: "verified"; "freed" (a frame freed while cached; the words
# after it must be among the agents that cache it: "cpu", "device"),
# "slot" (the fixmap reader saw another's frame), "deadlock" (an invalid
# end state), "lost" (a lockless map wrote into a table the tree no
# longer reaches), "written" (a lockless map wrote into a freed table).
VARIANTS = [
    Variant("fixed", [], "verified",
            "the kernel's protocol: safety and no deadlock"),
    Variant("fixed_progress", [], "verified",
            "the kernel's protocol: every shootdown completes (weak fairness)",
            progress=True),
    Variant("fixed_fixmap", ["FIXMAP"], "verified",
            "the fixmap slot, invalidated locally on map and on unmap"),
    # About ten million states: -O2 (the search is what takes long),
    # COLLAPSE (pan compresses each state losslessly: the search stays
    # exhaustive, in a third of the memory), and room for it.
    Variant("fixed_every_speculation", ["SPECULATE_SUBSETS"], "verified",
            "the kernel's protocol, every subset of agents speculating",
            in_test=False, cflags=["-O2", "-DCOLLAPSE", "-DMEMLIM=3072"]),
    Variant("no_remote_ipi", ["NO_REMOTE_IPI"], "freed cpu",
            "only the local invalidation (psc_model negative control)"),
    Variant("free_before_ack", ["FREE_BEFORE_ACK"], "freed cpu",
            "seed 002: frames freed before the acknowledgments"),
    Variant("device_told_after_free", ["DEVICE_TOLD_AFTER_FREE"], "freed device",
            "seed 003: the device TLB told after the free"),
    Variant("fixmap_no_local_invalidate_on_map",
            ["FIXMAP", "FIXMAP_NO_LOCAL_INVALIDATE_ON_MAP"], "slot",
            "seed 001: the slot mapped again without a local invalidation"),
    Variant("free_at_unlink", ["FREE_AT_UNLINK"], "freed",
            "seed 000: the purge frees a table where it unlinks it, before "
            "the flush"),
    Variant("reclaim_after_flush", ["RECLAIM_AFTER_FLUSH"], "freed",
            "the purge unlinks the empty tables after its shootdown, then "
            "frees them"),
    Variant("no_serve_while_waiting", ["NO_SERVE_WHILE_WAITING"], "deadlock",
            "a waiting CPU does not serve its own queue"),
    Variant("fixed_lockless_map", ["LOCKLESS_MAP"], "verified",
            "a map without kpt.lock racing the purge's reclaim: pinned, "
            "interrupts off"),
    Variant("lockless_no_pin", ["LOCKLESS_MAP", "LOCKLESS_NO_PIN"], "lost",
            "the lockless map does not pin the table; the reclaim looks at "
            "the entries present"),
    Variant("lockless_irqs_on", ["LOCKLESS_MAP", "LOCKLESS_IRQS_ON"], "written",
            "the lockless map walks with interrupts on: the purge's "
            "shootdown completes under it"),
]
RENDERED = "free_before_ack"     # the counterexample `make model` tells

AGENTS = ["cpu0", "cpu1", "cpu2", "device"]
FRAMES = {1: "M", 2: "TA", 3: "DA", 4: "TB", 5: "DB", 6: "X0", 7: "X2"}
LEGEND = """\
Frames: M, a table linking TA and TB; TA, the table of area A, mapping its
data frame DA; TB and DB, the same for area B; X0 and X2, the buffers cpu0
and cpu2 map at the fixmap slot.  "cached by" lists the agents whose
walkers may have cached the entry before it went (speculation)."""
PAGES = {0: "A", 1: "B", 2: "the slot"}
# The writers of the page tables, as shootdown.pml numbers them (FN_*).
WRITERS = {0: "kpt_unmap", 1: "kpt_unmap_leaves", 2: "kpt_reclaim_empty_tables"}


@dataclass
class Result:
    variant: Variant
    verdict: str = "error"          # verified | counterexample | error
    kind: str = ""                  # what the counterexample shows
    states: int = 0
    depth: int = 0
    seconds: float = 0.0            # pan's search
    build_seconds: float = 0.0      # spin -a and gcc
    log: list[str] = field(default_factory=list)

    def passed(self) -> bool:
        if self.variant.expect == "verified":
            return self.verdict == "verified"
        return self.verdict == "counterexample" and expected_kind(
            self.variant.expect, self.kind)


def expected_kind(expect: str, kind: str) -> bool:
    words = expect.split()
    if words[0] == "freed":
        return "freed while cached" in kind and all(w in kind for w in words[1:])
    if words[0] == "slot":
        return "through the slot" in kind
    if words[0] == "lost":
        return "no longer reaches" in kind
    if words[0] == "written":
        return "no longer a page table" in kind
    return words[0] == "deadlock" and kind.startswith("invalid end state")


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True)


def workdir(v: Variant, suffix: str = "") -> Path:
    d = BUILD / (v.name + suffix)
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for pml in MODEL_DIR.glob("*.pml"):
        shutil.copy(pml, d)
    return d


def build_pan(v: Variant, d: Path, extra: list[str]) -> str | None:
    """spin -a and gcc in @d; None, or what failed."""
    defines = [f"-D{m}" for m in v.defines]
    for cmd in (["spin", "-a", *defines, MODEL],
                ["gcc", *PAN_CFLAGS, *v.cflags, *extra, *defines, "-o", "pan",
                 "pan.c"]):
        done = run(cmd, d)
        if done.returncode != 0:
            return f"{' '.join(cmd)} failed: {(done.stdout + done.stderr).strip()[-400:]}"
    return None


def verify(v: Variant) -> Result:
    r = Result(v)
    d = workdir(v)
    start = time.monotonic()
    extra = PROGRESS_CFLAGS if v.progress else ["-DNOCLAIM"]
    err = build_pan(v, d, extra)
    r.build_seconds = time.monotonic() - start
    if err:
        r.log = [err]
        return r
    done = run(["./pan", "-a", "-f"] if v.progress else ["./pan"], d)
    out = done.stdout + done.stderr
    (d / "pan.out").write_text(out)
    r.log = out.splitlines()
    r.states = int(grab(r"(\d+) states, stored", out) or 0)
    r.depth = int(grab(r"depth reached (\d+)", out) or 0)
    r.seconds = float(grab(r"elapsed time ([\d.e+]+)", out) or 0)
    errors = grab(r"errors: (\d+)", out)
    if errors is None or (errors == "0" and "Search not completed" in out):
        r.log.insert(0, "pan did not finish the search")
        return r
    if errors == "0":
        r.verdict = "verified"
        return r
    r.verdict = "counterexample"
    if "pan:1: invalid end state" in out:
        r.kind = "invalid end state (a deadlock)"
    elif "pan:1: acceptance cycle" in out:
        r.kind = "acceptance cycle (a shootdown that never completes)"
    else:
        story = replay(v, d)
        r.kind = next((line.split("VIOLATION", 1)[1].strip()
                       for line in story if "VIOLATION" in line), "assertion")
    return r


def grab(pattern: str, text: str) -> str | None:
    m = re.search(pattern, text)
    return m.group(1) if m else None


def replay(v: Variant, d: Path) -> list[str]:
    """The trail in @d replayed; its trail lines, rendered."""
    defines = [f"-D{m}" for m in v.defines]
    done = run(["spin", "-T", "-t", *defines, MODEL], d)
    return [render(line) for line in done.stdout.splitlines()
            if line.lstrip().startswith("@@ ")]


def render(line: str) -> str:
    """"@@ 1 frame_free: frame 3" -> "cpu1    frame_free: DA (data of A)"."""
    _, who, text = line.strip().split(" ", 2)
    text = re.sub(r"^fn (\d)", lambda m: WRITERS.get(int(m.group(1)),
                                                   m.group(0)), text)
    text = re.sub(r"frame (\d)", lambda m: FRAMES.get(int(m.group(1)),
                                                      m.group(0)), text)
    text = re.sub(r"VA (\d)", lambda m: PAGES.get(int(m.group(1)),
                                                  m.group(0)), text)
    text = re.sub(r"by agents ([01]{4})", lambda m: "by " + (" ".join(
        a for a, bit in zip(AGENTS, m.group(1)) if bit == "1") or "nobody"),
        text)
    text = text.replace("cpu0's pages", "cpu0's request").replace(
        "cpu1's pages", "cpu1's request").replace("cpu2's pages",
                                                 "cpu2's request")
    who = AGENTS[int(who)] if who.isdigit() and int(who) < len(AGENTS) else ""
    return f"{who:<8}{text}"


def story(v: Variant) -> list[str]:
    """The shortest counterexample of @v (breadth-first), rendered."""
    d = workdir(v, "-bfs")
    err = build_pan(v, d, ["-DNOCLAIM", "-DBFS"])
    if err:
        return [err]
    run(["./pan"], d)
    if not (d / f"{MODEL}.trail").exists():
        return ["(no counterexample)"]
    lines = replay(v, d)
    return [f"{i:3}  {line}" for i, line in enumerate(lines, 1)]


def table(results: list[Result]) -> None:
    print(f"{'variant':<36} {'expected':<15} {'verdict':<15} {'states':>9} "
          f"{'depth':>6} {'search s':>9} {'build s':>8}  ")
    for r in results:
        mark = "" if r.passed() else "   <-- WRONG"
        print(f"{r.variant.name:<36} {r.variant.expect:<15} {r.verdict:<15} "
              f"{r.states:>9} {r.depth:>6} {r.seconds:>9.2f} "
              f"{r.build_seconds:>8.2f}{mark}")
        if r.kind:
            print(f"{'':<36} shows: {r.kind}")


def ktap(results: list[Result], names: tuple[int, list[str]]) -> int:
    print("KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: model")
    print(f"    1..{len(results) + 1}")
    failed = 0
    for i, r in enumerate(results, 1):
        print(f"    # {r.variant.name}: {r.variant.what}")
        print(f"    # expected {r.variant.expect}, SPIN says {r.verdict}"
              f"{' (' + r.kind + ')' if r.kind else ''}; {r.states} states, "
              f"depth {r.depth}, {r.seconds:.2f} s")
        if not r.passed():
            failed += 1
            for line in r.log[:12]:
                print(f"    # {line}")
        print(f"    {'ok' if r.passed() else 'not ok'} {i} {r.variant.name}")
    count, problems = names
    print(f"    # model_names: {count} kernel functions named by the model")
    for p in problems:
        print(f"    # {p}")
    failed += bool(problems)
    print(f"    {'not ok' if problems else 'ok'} {len(results) + 1} model_names")
    print(f"{'not ok' if failed else 'ok'} 1 model")
    return 1 if failed else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ktap", action="store_true",
                    help="KTAP, one case per variant plus the names check")
    ap.add_argument("--trail", metavar="VARIANT",
                    help="only render VARIANT's counterexample")
    args = ap.parse_args()
    if shutil.which("spin") is None:
        print("run.py: spin is not installed (sh tools/install-deps.sh)")
        return 1
    by_name = {v.name: v for v in VARIANTS}
    if args.trail:
        if args.trail not in by_name:
            print(f"run.py: no variant {args.trail}; there are: "
                  f"{', '.join(by_name)}")
            return 1
        print(LEGEND + "\n\n" + "\n".join(story(by_name[args.trail])))
        return 0
    chosen = [v for v in VARIANTS if v.in_test or not args.ktap]
    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        results = list(pool.map(verify, chosen))
    if args.ktap:
        return ktap(results, check_names.check())
    table(results)
    v = by_name[RENDERED]
    print(f"\nThe counterexample of {v.name} ({v.what}), shortest, "
          f"step by step:\n\n{LEGEND}\n")
    print("\n".join(story(v)))
    count, problems = check_names.check()
    print(f"\nmodel_names: {count} kernel functions named, "
          f"{len(problems)} undefined")
    for p in problems:
        print(f"  {p}")
    return 0 if all(r.passed() for r in results) and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
