#!/usr/bin/env python3
"""Write the binary seed corpora of tests/fuzz/: multiboot2 information
(corpus/multiboot/), ACPI tables (corpus/acpi/), and operation sequences
for the vmap-area and page-table fuzzers (corpus/vmap_area/,
corpus/kpt/), in the input formats the targets read (see each
tests/fuzz/<target>.c).  Valid structures first, as GRUB and QEMU's
firmware lay them out, then a few that are broken in one known way
each.  Deterministic (fixed seeds): run it again and git shows no
change.

    python3 tests/fuzz/gen_corpus.py
"""

from __future__ import annotations

import pathlib
import random
import struct

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"
IMAGE_PA = 0xE0000          # tests/fuzz/acpi.c: where the image lies


# ---- multiboot2 (the specification's tag layout) ----

def tag(kind: int, payload: bytes) -> bytes:
    body = struct.pack("<II", kind, 8 + len(payload)) + payload
    return body + b"\0" * (-len(body) % 8)


def mmap_tag(entries: list[tuple[int, int, int]], entry_size: int = 24) -> bytes:
    pad = b"\0" * (entry_size - 24)
    return tag(6, struct.pack("<II", entry_size, 0) + b"".join(
        struct.pack("<QQII", base, length, kind, 0) + pad
        for base, length, kind in entries))


def info(tags: list[bytes], end: bool = True) -> bytes:
    body = b"".join(tags) + (tag(0, b"") if end else b"")
    return struct.pack("<II", 8 + len(body), 0) + body


def rsdp(v2: bool, rsdt: int, xsdt: int = 0) -> bytes:
    head = b"RSD PTR " + b"\0" + b"BOCHS " + bytes([2 if v2 else 0]) + \
        struct.pack("<I", rsdt)
    head = head[:8] + bytes([-sum(head) & 0xFF]) + head[9:]
    if not v2:
        return head
    full = head + struct.pack("<IQB3s", 36, xsdt, 0, b"\0\0\0")
    return full[:32] + bytes([-sum(full) & 0xFF]) + full[33:]


PC_MAP = [(0, 0x9FC00, 1), (0x9FC00, 0x400, 2), (0xF0000, 0x10000, 2),
          (0x100000, 0x1FEE0000, 1), (0x1FFE0000, 0x20000, 3),
          (0xFFFC0000, 0x40000, 2)]


def multiboot_seeds() -> dict[str, bytes]:
    grub_bios = info([
        tag(1, b"selftest=cmdline\0"),
        tag(2, b"GRUB 2.06\0"),
        tag(3, struct.pack("<II", 0x200000, 0x201000) + b"initrd\0"),
        mmap_tag(PC_MAP),
        tag(8, struct.pack("<QIIIBBH", 0xFD000000, 4096, 1024, 768, 32, 1, 0)
            + b"\0" * 8),
        tag(14, rsdp(False, 0x1FFE1000)),
        tag(15, rsdp(True, 0x1FFE1000, 0x1FFE1100)),
    ])
    grub_uefi = info([
        tag(1, b"\0"),
        tag(12, struct.pack("<Q", 0x7FE00000)),
        mmap_tag(PC_MAP, entry_size=32),
        tag(15, rsdp(True, 0, 0x7FB7E0E8)),
    ])
    flag = b"\0"    # tests/fuzz/multiboot.c: the loader's address is aligned
    return {
        "grub-bios": flag + grub_bios,
        "grub-uefi": flag + grub_uefi,
        "minimal": flag + info([]),
        "no-end-tag": flag + info([tag(1, b"quiet\0")], end=False),
        "tag-past-end": flag + info([struct.pack("<II", 1, 0x1000)]),
        "cmdline-no-nul": flag + info([tag(1, b"abc")]),
        "mmap-bad-entry-size": flag + info([mmap_tag(PC_MAP[:2], 24)[:8] +
                                            struct.pack("<II", 20, 0)]),
        "misaligned-address": b"\2" + grub_bios,
    }


# ---- ACPI (ACPI 6.5, 5.2) ----

def sdt(sig: bytes, body: bytes, revision: int = 1) -> bytes:
    head = sig + struct.pack("<IBB6s8sIII", 36 + len(body), revision, 0,
                             b"BOCHS ", b"BXPC    ", 1, 0x42505842, 1)
    table = bytearray(head + body)
    table[9] = -sum(table) & 0xFF
    return bytes(table)


def madt(cpus: int, x2apic: bool = False) -> bytes:
    entries = b""
    for i in range(cpus):
        entries += struct.pack("<BBBBI", 0, 8, i, i, 1)
    entries += struct.pack("<BBBBIBxBB", 0, 8, 99, 99, 0, 0, 0, 0)[:8]  # disabled
    entries += struct.pack("<BBBBII", 1, 12, 0, 0, 0xFEC00000, 0)       # I/O APIC
    entries += struct.pack("<BBBBIH", 2, 10, 0, 0, 2, 0)                 # IRQ0 -> GSI2
    entries += struct.pack("<BBBBIH", 2, 10, 0, 9, 9, 0xD)
    entries += struct.pack("<BBBHB", 4, 6, 0xFF, 0, 1)                   # LINT1 NMI
    if x2apic:
        entries += struct.pack("<BBHIII", 9, 16, 0, 0x100, 1, 0x100)
        entries += struct.pack("<BBHQ", 5, 12, 0, 0xFEE00000)
    return sdt(b"APIC", struct.pack("<II", 0xFEE00000, 1) + entries)


def image_with(root_sig: bytes, entry_size: int) -> tuple[bytes, int]:
    """A physical image: a FACP-like table, the MADT, and the root that
    lists both; returns it and the root's physical address."""
    other = sdt(b"FACP", b"\0" * 80)
    the_madt = madt(4, x2apic=True)
    other_pa = IMAGE_PA + 0x40
    madt_pa = other_pa + len(other) + 8
    fmt = "<I" if entry_size == 4 else "<Q"
    root = sdt(root_sig, struct.pack(fmt, other_pa) + struct.pack(fmt, madt_pa))
    image = b"\0" * 0x40 + other + b"\0" * 8 + the_madt
    root_pa = IMAGE_PA + len(image)
    return image + root, root_pa


def init_input(flags: int, rsdp_bytes: bytes, image: bytes) -> bytes:
    return b"\3" + bytes([flags]) + rsdp_bytes.ljust(36, b"\0") + image


def acpi_seeds() -> dict[str, bytes]:
    x_image, x_root = image_with(b"XSDT", 8)
    r_image, r_root = image_with(b"RSDT", 4)
    s_image, s_root = image_with(b"RSDT", 4)
    # The scan's image: the tables, then an RSDP on a 16-byte boundary.
    s_image += b"\0" * (-len(s_image) % 16)
    scan_image = s_image + rsdp(False, s_root)
    # flags (tests/fuzz/acpi.c): 1 RSDP tag, 2 of 36 bytes, 4 UEFI,
    # 8 image in the direct map, 16 fix checksums
    return {
        "rsdp-v1": b"\0" + rsdp(False, 0x1FFE1000),
        "rsdp-v2": b"\0" + rsdp(True, 0x1FFE1000, 0x1FFE1100),
        "table-apic": b"\1\1" + madt(2),
        "madt-4cpus": b"\2" + madt(4),
        "madt-x2apic": b"\2" + madt(2, x2apic=True),
        "madt-17cpus": b"\2" + madt(17),
        "init-xsdt-ioremap": init_input(1 | 2, rsdp(True, 0, x_root), x_image),
        "init-xsdt-direct": init_input(1 | 2 | 8, rsdp(True, 0, x_root), x_image),
        "init-rsdt": init_input(1, rsdp(False, r_root), r_image),
        "init-rsdt-fix": init_input(1 | 16, rsdp(False, r_root), r_image),
        "init-bios-scan": init_input(0, b"", scan_image),
        "init-uefi-no-rsdp": init_input(4, b"", x_image),
    }


# ---- operation sequences (tests/fuzz/vmap_area.c, tests/fuzz/kpt.c) ----

def vmap_area_seeds() -> dict[str, bytes]:
    """[shape, window pages (u16), start page] then operations: an op
    byte (% 6: alloc, alloc, free lazy, free unmapped, begin free,
    purge) and its argument bytes."""
    rng = random.Random(1)

    def ops(n: int, weights: list[int]) -> bytes:
        out = b""
        for _ in range(n):
            op = rng.choices(range(6), weights)[0]
            out += bytes([op]) + bytes(rng.randrange(256) for _ in range(3))
        return out
    return {
        "small-window-fills": b"\0" + struct.pack("<H", 62) + b"\3" +
        ops(60, [4, 4, 2, 1, 1, 1]),
        "lazy-and-purge": b"\0" + struct.pack("<H", 4000) + b"\0" +
        ops(80, [3, 3, 3, 1, 1, 2]),
        "huge-aligns": b"\1" + struct.pack("<H", 100) + b"\7" +
        bytes([0, 0x0D, 1, 0, 0x0C, 3, 5, 0, 0x0F, 5, 2, 0, 0, 5, 5]),
    }


def kpt_seeds() -> dict[str, bytes]:
    """[features] then operations of 12 bytes each (tests/fuzz/kpt.c)."""
    rng = random.Random(2)
    return {
        f"ops-{i}": bytes([i % 2]) + bytes(rng.randrange(256)
                                           for _ in range(12 * 24))
        for i in range(4)
    }


def main() -> None:
    for target, seeds in (("multiboot", multiboot_seeds()),
                          ("acpi", acpi_seeds()),
                          ("vmap_area", vmap_area_seeds()),
                          ("kpt", kpt_seeds())):
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            (folder / name).write_bytes(data)


if __name__ == "__main__":
    main()
