import unittest
from datetime import datetime
from cron_next import next_match


class CronTest(unittest.TestCase):
    def test_every_minute(self):
        self.assertEqual(next_match("* * * * *", datetime(2024, 1, 1, 10, 0, 30)), datetime(2024, 1, 1, 10, 1))

    def test_hourly_step(self):
        self.assertEqual(next_match("*/15 9-17 * * *", datetime(2024, 3, 5, 17, 50)), datetime(2024, 3, 6, 9, 0))

    def test_list_and_month_rollover(self):
        self.assertEqual(next_match("0 0 1,15 * *", datetime(2024, 12, 20, 8, 0)), datetime(2025, 1, 1, 0, 0))

    def test_leap_day(self):
        self.assertEqual(next_match("30 6 29 2 *", datetime(2024, 3, 1)), datetime(2028, 2, 29, 6, 30))

    def test_weekday_sunday_as_seven(self):
        # 2024-06-05 is a Wednesday; next Sunday is 06-09.
        self.assertEqual(next_match("0 12 * * 7", datetime(2024, 6, 5)), datetime(2024, 6, 9, 12, 0))

    def test_day_or_weekday(self):
        # Both restricted: the 13th OR a Friday. 2024-09-06 is a Friday, before the 13th.
        self.assertEqual(next_match("0 0 13 * 5", datetime(2024, 9, 2)), datetime(2024, 9, 6, 0, 0))

    def test_range_step(self):
        self.assertEqual(next_match("10-40/10 * * * *", datetime(2024, 1, 1, 0, 40)), datetime(2024, 1, 1, 1, 10))

    def test_errors(self):
        for bad in ["* * * *", "60 * * * *", "* * 0 * *", "*/0 * * * *", "a * * * *", "5-1 * * * *"]:
            with self.assertRaises(ValueError):
                next_match(bad, datetime(2024, 1, 1))
        with self.assertRaises(ValueError):
            next_match("0 0 31 2 *", datetime(2024, 1, 1))


if __name__ == "__main__":
    unittest.main()
