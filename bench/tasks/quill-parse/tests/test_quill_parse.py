import unittest
from quill import QuillError, parse_quill


def line(fields):
    return f"{fields}|{sum(fields.encode()) % 256:02X}"


class QuillParseTest(unittest.TestCase):
    def test_records(self):
        text = "\n".join(["# header", line("id=1;name=Ada"), "", line("id=2;note=a\\;b\\|c\\=d\\\\e;x=")])
        self.assertEqual(parse_quill(text), [{"id": "1", "name": "Ada"}, {"id": "2", "note": "a;b|c=d\\e", "x": ""}])

    def test_utf8_checksum(self):
        self.assertEqual(parse_quill(line("id=é")), [{"id": "é"}])

    def test_checksum_is_upper_hex(self):
        fields = "id=7"
        lower = f"{fields}|{sum(fields.encode()) % 256:02x}"
        if lower != line(fields):
            with self.assertRaises(QuillError):
                parse_quill(lower)

    def test_errors_report_line(self):
        cases = [
            line("id=1") + "\nid=2|00",
            line("id=1") + "\n" + line("id=2;bad key=1"),
            line("id=1") + "\n" + line("id=2;x=\\n"),
            line("id=1") + "\n" + line("id=2;x=1;x=2"),
            line("id=1") + "\n" + line("name=x"),
            line("id=1") + "\n" + "id=2",
            line("id=1") + "\n" + line("id=2;Key=1"),
        ]
        for text in cases:
            with self.assertRaises(QuillError, msg=text) as caught:
                parse_quill(text)
            self.assertEqual(caught.exception.line, 2, msg=text)


if __name__ == "__main__":
    unittest.main()
