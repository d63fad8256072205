#!/usr/bin/env python3
"""Unit tests for tools/qemu_run.py and tools/run_tests.py that need no
kernel: the generated grub.cfg, the QEMU command line, the exit-status
mapping, the --cmdline ISO cache and the test matrix.

    python3 tests/tools/test_qemu_run.py -v
"""

import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "tools"))
import qemu_run  # noqa: E402  (path set up just above)
import run_tests  # noqa: E402

TEMPLATE = """\
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=5
menuentry "shootdown" {
	multiboot2 /boot/kernel.elf old=1
	boot
}
"""


class GrubCfg(unittest.TestCase):
    def test_timeout_is_forced_to_zero(self):
        cfg = qemu_run.grub_cfg("selftest=tlb", TEMPLATE)
        self.assertIn("set timeout=0\n", cfg)
        self.assertNotIn("timeout=5", cfg)

    def test_timeout_is_added_when_missing(self):
        cfg = qemu_run.grub_cfg("", TEMPLATE.replace("set timeout=5\n", ""))
        self.assertTrue(cfg.startswith("set timeout=0\n"))

    def test_options_replace_the_old_ones_quoted(self):
        cfg = qemu_run.grub_cfg("selftest=tlb* log=\"it's\"", TEMPLATE)
        self.assertIn("\tmultiboot2 /boot/kernel.elf 'selftest=tlb*' "
                      "'log=it'\\''s'\n", cfg)
        self.assertNotIn("old=1", cfg)

    def test_unbalanced_quote_is_a_setup_error(self):
        with self.assertRaises(qemu_run.SetupError):
            qemu_run.grub_cfg("log=it's", TEMPLATE)

    def test_no_options(self):
        cfg = qemu_run.grub_cfg("", TEMPLATE)
        self.assertIn("\tmultiboot2 /boot/kernel.elf\n", cfg)

    def test_serial_console_kept(self):
        cfg = qemu_run.grub_cfg("x", TEMPLATE)
        for line in ("serial --unit=0 --speed=115200",
                     "terminal_input serial console",
                     "terminal_output serial console"):
            self.assertIn(line + "\n", cfg)

    def test_the_real_template_and_the_fallback(self):
        for template in (qemu_run.FALLBACK_GRUB_CFG,
                         qemu_run.GRUB_TEMPLATE.read_text()
                         if qemu_run.GRUB_TEMPLATE.exists() else ""):
            cfg = qemu_run.grub_cfg("selftest=none", template)
            self.assertIn("set timeout=0", cfg)
            if template:
                self.assertIn("/boot/kernel.elf 'selftest=none'", cfg)


class Command(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp)

    def command(self, **kw):
        boot = qemu_run.Boot(**kw)
        return qemu_run.qemu_command(boot, Path("x.iso"), self.tmp / "v.fd")

    def test_fixed_options(self):
        cmd = " ".join(self.command(smp=4, cpu="qemu64", mem="1G"))
        for part in ("-accel tcg", "-cpu qemu64", "-smp 4", "-m 1G",
                     "-no-reboot", "-display none", "-monitor none",
                     "-serial stdio", "-cdrom x.iso",
                     "-device isa-debug-exit,iobase=0xf4,iosize=0x04"):
            self.assertIn(part, cmd)
        self.assertNotIn("-S", cmd.split())

    def test_tcg_threads(self):
        self.assertIn("tcg,thread=multi", self.command())
        self.assertIn("tcg,thread=single", self.command(tcg_thread="single"))
        with self.assertRaises(qemu_run.SetupError):
            self.command(tcg_thread="many")

    def test_maxcpus_joins_smp(self):
        cmd = self.command(smp=2, maxcpus=8)
        self.assertEqual(cmd[cmd.index("-smp") + 1], "2,maxcpus=8")
        cmd = self.command(smp=2)
        self.assertEqual(cmd[cmd.index("-smp") + 1], "2")

    def test_machine_only_when_asked(self):
        self.assertNotIn("-machine", self.command())
        cmd = self.command(machine="pc,acpi=off")
        self.assertEqual(cmd[cmd.index("-machine") + 1], "pc,acpi=off")

    def test_gdb(self):
        cmd = self.command(gdb=True)
        self.assertEqual(cmd[-3:], ["-gdb", "tcp:localhost:1234", "-S"])
        cmd = self.command(gdb=True, gdb_port=40123)
        self.assertEqual(cmd[-3:], ["-gdb", "tcp:localhost:40123", "-S"])

    def test_uefi_gets_ovmf_and_a_private_vars_copy(self):
        cmd = " ".join(self.command(firmware="uefi"))
        if (self.tmp / "v.fd").exists():
            self.assertIn("if=pflash,format=raw,unit=0,readonly=on", cmd)
            self.assertIn(f"unit=1,file={self.tmp / 'v.fd'}", cmd)
        else:
            self.assertIn(f"-bios {qemu_run.OVMF_UNIFIED}", cmd)

    def test_commas_in_the_vars_path_are_doubled(self):
        vars_copy = self.tmp / "uefi-selftest=smp,pit-OVMF_VARS.fd"
        cmd = qemu_run.qemu_command(qemu_run.Boot(firmware="uefi"),
                                    Path("x.iso"), vars_copy)
        drives = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-drive"]
        if not drives:
            self.skipTest("no split OVMF images here")
        self.assertIn(f"file={self.tmp}/uefi-selftest=smp,,pit-OVMF_VARS.fd",
                      drives[1])

    def test_bad_firmware(self):
        with self.assertRaises(qemu_run.SetupError):
            self.command(firmware="coreboot")


class ExitStatus(unittest.TestCase):
    def test_mapping(self):
        self.assertEqual(qemu_run.verdict(33)[0], 0)
        self.assertEqual(qemu_run.verdict(35)[0], 1)
        for status in (0, 1, 3, -9):
            status_, message = qemu_run.verdict(status)
            self.assertEqual(status_, 2)
            self.assertIn("kernel crashed or exited without reporting",
                          message)

    def test_missing_iso_is_status_2(self):
        with mock.patch("builtins.print"):
            self.assertEqual(qemu_run.main(["--iso", "/nonexistent.iso"]), 2)
            self.assertEqual(qemu_run.main(["--iso", "/nonexistent.iso",
                                            "--cmdline", "x"]), 2)


@unittest.skipUnless(shutil.which("grub-mkrescue") and shutil.which("xorriso"),
                     "needs grub-mkrescue and xorriso")
class CmdlineIso(unittest.TestCase):
    """grub-mkrescue does not look inside kernel.elf, so any file will do."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp)
        kernel = self.tmp / "kernel.elf"
        kernel.write_bytes(b"not really a kernel")
        for name, value in (("KERNEL", kernel), ("RUN_DIR", self.tmp / "run"),
                            ("GRUB_TEMPLATE", self.tmp / "none.cfg")):
            patcher = mock.patch.object(qemu_run, name, value)
            patcher.start()
            self.addCleanup(patcher.stop)

    def test_built_once_then_reused(self):
        iso = qemu_run.cmdline_iso("selftest=tlb*")
        self.assertTrue(iso.name.startswith("cmdline-"))
        inode = iso.stat().st_ino
        self.assertEqual(qemu_run.cmdline_iso("selftest=tlb*"), iso)
        self.assertEqual(iso.stat().st_ino, inode)      # not rebuilt
        self.assertNotEqual(qemu_run.cmdline_iso("selftest=pmm"), iso)

        out = self.tmp / "grub.cfg"
        subprocess.run(["xorriso", "-osirrox", "on", "-indev", str(iso),
                        "-extract", "/boot/grub/grub.cfg", str(out)],
                       check=True, capture_output=True)
        cfg = out.read_text()
        self.assertIn("set timeout=0", cfg)
        self.assertIn("multiboot2 /boot/kernel.elf 'selftest=tlb*'", cfg)

    def test_new_kernel_new_iso(self):
        first = qemu_run.cmdline_iso("x")
        qemu_run.KERNEL.write_bytes(b"rebuilt")
        self.assertNotEqual(qemu_run.cmdline_iso("x"), first)


class Matrix(unittest.TestCase):
    def test_default_matrix_covers_the_machines(self):
        """Both firmwares at one and several CPUs, and the fallbacks."""
        boots = [c.boot for c in run_tests.parse_matrix(
            run_tests.DEFAULT_MATRIX)]
        machines = {(b.firmware, b.smp, b.cpu) for b in boots}
        for firmware in ("bios", "uefi"):
            for smp in (1, 4):
                self.assertIn((firmware, smp, "max"), machines)
        for smp in (2, 8):
            self.assertIn(smp, {b.smp for b in boots})
        self.assertIn(("bios", 4, "qemu64"), machines)
        # Real concurrency: at least one -smp 4 boot in parallel threads.
        self.assertIn(("bios", 4, "max", "multi"),
                      {(b.firmware, b.smp, b.cpu, b.tcg_thread)
                       for b in boots})
        names = [c.name for c in run_tests.parse_matrix(
            run_tests.DEFAULT_MATRIX)]
        self.assertEqual(len(names), len(set(names)))

    def test_entry_forms(self):
        a, b, c, d, e = run_tests.parse_matrix(
            ["uefi:2", "bios:1:qemu64", "bios:1::selftest=tlb*",
             "bios:1:max:a=b:c", "bios:8/single:qemu64"])
        self.assertEqual((a.boot.firmware, a.boot.smp, a.boot.cpu,
                          a.boot.tcg_thread), ("uefi", 2, "max", "multi"))
        self.assertEqual(b.name, "bios-smp1-qemu64")
        self.assertEqual((c.name, c.boot.cmdline),
                         ("bios-smp1-selftest=tlb", "selftest=tlb*"))
        self.assertEqual(d.boot.cmdline, "a=b:c")
        self.assertEqual((e.name, e.boot.smp, e.boot.tcg_thread),
                         ("bios-smp8-single-qemu64", 8, "single"))

    def test_rerun_command_names_the_thread_mode(self):
        single, multi = run_tests.parse_matrix(["bios:8/single", "bios:8"])
        self.assertIn("--tcg-thread single",
                      run_tests.rerun_command(single.boot))
        self.assertNotIn("--tcg-thread", run_tests.rerun_command(multi.boot))

    def test_duplicate_names_get_a_number(self):
        names = [c.name for c in run_tests.parse_matrix(["bios:1", "bios:1"])]
        self.assertEqual(names, ["bios-smp1", "bios-smp1-2"])

    def test_bad_entries(self):
        for entry in ("efi:1", "bios:0", "bios:x", "", "bios:4/many",
                      "bios:/single"):
            with self.subTest(entry=entry), self.assertRaises(ValueError):
                run_tests.parse_matrix([entry])


if __name__ == "__main__":
    unittest.main()
