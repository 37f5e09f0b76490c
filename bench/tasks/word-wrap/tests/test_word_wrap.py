import unittest
from word_wrap import wrap


class WrapTest(unittest.TestCase):
    def test_basic(self):
        self.assertEqual(wrap("the quick brown fox jumps", 10), ["the quick", "brown fox", "jumps"])
        self.assertEqual(wrap("  spaced\n\tout  words ", 12), ["spaced out", "words"])

    def test_exact_fit(self):
        self.assertEqual(wrap("abc def", 7), ["abc def"])

    def test_long_words(self):
        self.assertEqual(wrap("abcdefghi x", 4), ["abcd", "efgh", "i x"])

    def test_empty(self):
        self.assertEqual(wrap("   ", 5), [])

    def test_bad_width(self):
        with self.assertRaises(ValueError):
            wrap("a", 0)


if __name__ == "__main__":
    unittest.main()
