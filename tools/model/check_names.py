#!/usr/bin/env python3
"""Check that every kernel function the model names still exists.

Each modelled step in tools/model/*.pml says which function it stands
for in a comment of the form

    /* code: shootdown_flush_and_free */

This script collects those names and looks for a definition of each in
the kernel's C sources (a line that starts at column 0, is not a
comment or a directive, contains NAME( and does not end in ';').  A
name with no definition means the model and the code have drifted
apart: the step must be renamed or re-modelled.

    tools/model/check_names.py [--root DIR]

Exit status 0 when every name is defined.  tools/model/run.py runs the
same check as one of its KTAP cases.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = Path(__file__).resolve().parent
# The kernel's sources; tests/ is left out: a test helper of the same
# name must not stand in for the kernel's function.
SOURCE_DIRS = ("arch", "kernel", "mm")

NAME_TAG = re.compile(r"/\*\s*code:\s*([A-Za-z_][A-Za-z0-9_]*)\s*\*/")


def model_names(model_dir: Path) -> dict[str, list[str]]:
    """Each name the model tags, with where ("file:line")."""
    names: dict[str, list[str]] = {}
    for pml in sorted(model_dir.glob("*.pml")):
        for n, line in enumerate(pml.read_text().splitlines(), 1):
            for m in NAME_TAG.finditer(line):
                names.setdefault(m.group(1), []).append(f"{pml.name}:{n}")
    return names


def defined_names(root: Path) -> set[str]:
    """Every identifier followed by '(' on a definition line: in a .c
    file, a line that starts a declaration and does not end in ';'; in a
    header, only a "static inline" one (the others declare)."""
    found: set[str] = set()
    ident = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")
    for d in SOURCE_DIRS:
        for src in sorted((root / d).rglob("*.[ch]")):
            for line in src.read_text(errors="replace").splitlines():
                if (not line or line[0] in " \t#/*{}" or
                        line.rstrip().endswith(";")):
                    continue
                if src.suffix == ".h" and not line.startswith("static inline"):
                    continue
                m = ident.search(line)
                if m:
                    found.add(m.group(1))
    return found


def check(root: Path = ROOT) -> tuple[int, list[str]]:
    """How many names the model tags, and one message per undefined one."""
    names = model_names(MODEL_DIR)
    if not names:
        return 0, ["the model tags no function at all ('/* code: NAME */')"]
    defined = defined_names(root)
    return len(names), [
        f"the model names {name} ({', '.join(where)}), which no C source "
        f"under {', '.join(d + '/' for d in SOURCE_DIRS)} defines"
        for name, where in sorted(names.items()) if name not in defined]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=ROOT,
                    help="the source tree to look in (default: this one)")
    args = ap.parse_args()
    count, problems = check(args.root)
    for p in problems:
        print(f"check_names: {p}")
    print(f"check_names: {count} names, {len(problems)} undefined")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
