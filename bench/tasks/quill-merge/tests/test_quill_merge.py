import unittest
from quill_merge import merge


def line(fields):
    return f"{fields}|{sum(fields.encode()) % 256:02X}"


class QuillMergeTest(unittest.TestCase):
    def test_merge(self):
        base = "\n".join(["# base", line("id=10;name=Ten;size=3"), line("id=2;name=Two"), line("id=x;v=a\\;b")])
        update = "\n".join([line("id=2;size=9;name=Deux"), line("id=10;size=-"), line("id=1;note=new"), ""])
        expected = "".join(line(fields) + "\n" for fields in [
            "id=1;note=new", "id=2;name=Deux;size=9", "id=10;name=Ten", "id=x;v=a\\;b"])
        self.assertEqual(merge(base, update), expected)

    def test_canonical_output_reorders_keys(self):
        self.assertEqual(merge(line("id=a;z=1;b=2"), ""), line("id=a;b=2;z=1") + "\n")

    def test_empty(self):
        self.assertEqual(merge("", ""), "")

    def test_errors_name_document_and_line(self):
        with self.assertRaisesRegex(ValueError, "update.*2"):
            merge(line("id=1"), line("id=1") + "\nid=2|00")
        with self.assertRaisesRegex(ValueError, "base.*2"):
            merge(line("id=1") + "\n" + line("id=1"), "")
        with self.assertRaisesRegex(ValueError, "base.*1"):
            merge(line("id=1;x=\\q"), "")

    def test_cannot_remove_id(self):
        with self.assertRaises(ValueError):
            merge(line("id=1"), line("id=-"))


if __name__ == "__main__":
    unittest.main()
