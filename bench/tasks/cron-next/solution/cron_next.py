from datetime import datetime, timedelta

_LIMITS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def _field(text, low, high):
    values = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"bad step in {part}")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            if not first.isdigit() or not last.isdigit():
                raise ValueError(f"bad range {base}")
            start, end = int(first), int(last)
        elif base.isdigit():
            start = end = int(base)
            if step_text:
                end = high
        else:
            raise ValueError(f"bad field {part}")
        if start < low or end > high or start > end:
            raise ValueError(f"{part} is out of range")
        values.update(range(start, end + 1, step))
    return values


def next_match(expression, after):
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError("a cron expression has five fields")
    minutes, hours, days, months, weekdays = (_field(text, *limits) for text, limits in zip(fields, _LIMITS))
    if 7 in weekdays:
        weekdays = (weekdays - {7}) | {0}
    both_restricted = fields[2] != "*" and fields[4] != "*"

    def day_matches(moment):
        cron_weekday = (moment.weekday() + 1) % 7
        by_day, by_weekday = moment.day in days, cron_weekday in weekdays
        return (by_day or by_weekday) if both_restricted else (by_day and by_weekday)

    moment = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    limit = after + timedelta(days=366 * 5)
    while moment <= limit:
        if moment.month not in months:
            moment = (moment.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
        elif not day_matches(moment):
            moment = moment.replace(hour=0, minute=0) + timedelta(days=1)
        elif moment.hour not in hours:
            moment = moment.replace(minute=0) + timedelta(hours=1)
        elif moment.minute not in minutes:
            moment += timedelta(minutes=1)
        else:
            return moment
    raise ValueError("no match within five years")
