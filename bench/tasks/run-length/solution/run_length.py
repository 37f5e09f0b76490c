import re

_RUN = re.compile(r"([1-9][0-9]*)(\D)")


def encode(text: str) -> str:
    if any(ch.isdigit() for ch in text):
        raise ValueError("digits cannot be encoded")
    runs = []
    for ch in text:
        if runs and runs[-1][1] == ch:
            runs[-1][0] += 1
        else:
            runs.append([1, ch])
    return "".join(f"{count}{ch}" for count, ch in runs)


def decode(code: str) -> str:
    position, parts = 0, []
    while position < len(code):
        match = _RUN.match(code, position)
        if not match:
            raise ValueError(f"malformed run at {position}")
        parts.append(match.group(2) * int(match.group(1)))
        position = match.end()
    return "".join(parts)
