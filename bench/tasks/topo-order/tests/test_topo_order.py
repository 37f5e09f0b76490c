import unittest
from topo_order import CycleError, build_order


class BuildOrderTest(unittest.TestCase):
    def test_simple(self):
        self.assertEqual(build_order({"app": ["lib", "util"], "lib": ["util"]}), ["util", "lib", "app"])

    def test_ties_alphabetical(self):
        self.assertEqual(build_order({"c": [], "b": [], "a": ["c"]}), ["b", "c", "a"])

    def test_implicit_targets(self):
        self.assertEqual(build_order({"z": ["y", "x"]}), ["x", "y", "z"])

    def test_empty(self):
        self.assertEqual(build_order({}), [])

    def test_cycle(self):
        with self.assertRaises(CycleError) as caught:
            build_order({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"], "e": []})
        self.assertEqual(caught.exception.cycle, ["a", "b", "c"])

    def test_self_loop(self):
        with self.assertRaises(CycleError) as caught:
            build_order({"a": ["a"], "b": ["a"]})
        self.assertEqual(caught.exception.cycle, ["a"])


if __name__ == "__main__":
    unittest.main()
