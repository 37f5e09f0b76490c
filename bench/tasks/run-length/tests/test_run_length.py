import unittest
from run_length import decode, encode


class RunLengthTest(unittest.TestCase):
    def test_encode(self):
        self.assertEqual(encode("aaab"), "3a1b")
        self.assertEqual(encode("x" * 12 + "y"), "12x1y")
        self.assertEqual(encode(""), "")
        self.assertEqual(encode("  !"), "2 1!")

    def test_decode(self):
        self.assertEqual(decode("3a1b"), "aaab")
        self.assertEqual(decode("12x1y"), "x" * 12 + "y")
        self.assertEqual(decode(""), "")

    def test_round_trip(self):
        for text in ["abc", "zzzzzzzzzzzzzzzzzzzzzzzzzz", "a b  c", "é" * 3]:
            self.assertEqual(decode(encode(text)), text)

    def test_errors(self):
        with self.assertRaises(ValueError):
            encode("a1")
        for bad in ["3", "a", "0a", "3a2"]:
            with self.assertRaises(ValueError):
                decode(bad)


if __name__ == "__main__":
    unittest.main()
