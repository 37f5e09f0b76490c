import re

_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


class QuillError(Exception):
    def __init__(self, line, reason=""):
        super().__init__(f"line {line}: {reason}")
        self.line = line


def _split(fields, number):
    """Splits at unescaped ';' and '=' while unescaping values."""
    pairs, key, current, escaped = [], None, [], False
    for ch in fields:
        if escaped:
            if ch not in "\\;|=":
                raise QuillError(number, f"unknown escape \\{ch}")
            current.append(ch)
            escaped = False
        elif ch == "\\":
            if key is None:
                raise QuillError(number, "escape in a key")
            escaped = True
        elif ch == "=" and key is None:
            key, current = "".join(current), []
        elif ch == ";":
            if key is None:
                raise QuillError(number, "field without '='")
            pairs.append((key, "".join(current)))
            key, current = None, []
        elif ch == "|":
            raise QuillError(number, "unescaped |")
        else:
            current.append(ch)
    if escaped or key is None:
        raise QuillError(number, "truncated field")
    pairs.append((key, "".join(current)))
    return pairs


def parse_quill(text):
    records = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields, bar, check = line.rpartition("|")
        if not bar or not re.fullmatch(r"[0-9A-F]{2}", check):
            raise QuillError(number, "missing check")
        if sum(fields.encode("utf-8")) % 256 != int(check, 16):
            raise QuillError(number, "wrong check")
        record = {}
        for key, value in _split(fields, number):
            if not _KEY.match(key) or key in record:
                raise QuillError(number, f"bad or repeated key {key!r}")
            record[key] = value
        if "id" not in record:
            raise QuillError(number, "no id")
        records.append(record)
    return records
