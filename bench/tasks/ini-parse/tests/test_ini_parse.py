import unittest
from ini_parse import IniError, parse_ini


class IniTest(unittest.TestCase):
    def test_sections(self):
        text = "top = 1\n[ main ]\nName = x\nurl: http://a=b\n\n; comment\n  # also comment\n[other]\nk=v"
        self.assertEqual(parse_ini(text), {"": {"top": "1"}, "main": {"name": "x", "url": "http://a=b"}, "other": {"k": "v"}})

    def test_continuation(self):
        self.assertEqual(parse_ini("[s]\nmsg = first\n   second\n\tthird\nnext=1"), {"s": {"msg": "first\nsecond\nthird", "next": "1"}})

    def test_repeats(self):
        self.assertEqual(parse_ini("[a]\nx=1\n[b]\ny=2\n[a]\nx=3\nz=4"), {"a": {"x": "3", "z": "4"}, "b": {"y": "2"}})

    def test_no_global_section_when_empty(self):
        self.assertEqual(parse_ini("[a]\n"), {"a": {}})

    def test_errors(self):
        with self.assertRaises(IniError) as caught:
            parse_ini("[a]\nx=1\njust words")
        self.assertEqual(caught.exception.line_number, 3)
        with self.assertRaises(IniError) as caught:
            parse_ini("  orphan continuation")
        self.assertEqual(caught.exception.line_number, 1)


if __name__ == "__main__":
    unittest.main()
