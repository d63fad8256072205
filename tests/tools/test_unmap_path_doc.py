"""docs/unmap-path.md lists every function one vfree passes through, with
the file that defines it.  Check each one is defined there: a renamed or
moved function makes the doc false, and this test says which."""
import pathlib
import re
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "unmap-path.md"


def call_path_rows(text):
    """(depth, function, file) for each line of the call-path block."""
    block = text.split("## The call path", 1)[1].split("```", 2)[1]
    rows = []
    for line in block.splitlines():
        m = re.match(r"^( *)([a-z_0-9]+) +([a-z0-9_/]+\.c)\b", line)
        if m:
            rows.append((len(m.group(1)) // 2, m.group(2), m.group(3)))
    return rows


def defines(source, function):
    """Is @function defined (not only declared or called) in @source?"""
    pattern = rf"^[a-z][^;()]*\b{function}\((?:[^;{{]|\n)*?\)\s*\n{{"
    return re.search(pattern, source, re.MULTILINE) is not None


class UnmapPathDoc(unittest.TestCase):
    def test_block_is_there(self):
        rows = call_path_rows(DOC.read_text())
        self.assertGreaterEqual(len(rows), 20, f"call path rows: {rows}")
        self.assertEqual(rows[0][1], "vfree")
        self.assertIn("shootdown_flush_and_free", [r[1] for r in rows])

    def test_every_function_is_defined_in_its_file(self):
        for depth, function, path in call_path_rows(DOC.read_text()):
            with self.subTest(function=function, file=path):
                source = (ROOT / path).read_text()
                self.assertTrue(defines(source, function),
                                f"{function} (depth {depth}) is not defined "
                                f"in {path}")

    def test_the_checker_can_fail(self):
        self.assertFalse(defines("void f(void);\nint g(void)\n{\n}\n", "f"))
        self.assertTrue(defines("int g(void)\n{\n}\n", "g"))


if __name__ == "__main__":
    unittest.main()
