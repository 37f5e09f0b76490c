from datetime import datetime


def next_match(expression: str, after: datetime) -> datetime:
    raise NotImplementedError
