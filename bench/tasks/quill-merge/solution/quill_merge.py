import re

_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


def _parse(text, name):
    records = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        problem = lambda why: ValueError(f"{name} line {number}: {why}")
        fields, bar, check = line.rpartition("|")
        if not bar or not re.fullmatch(r"[0-9A-F]{2}", check) or sum(fields.encode()) % 256 != int(check, 16):
            raise problem("bad check")
        record, key, current, escaped = {}, None, [], False
        for ch in fields + ";":
            if escaped:
                if ch not in "\\;|=":
                    raise problem("bad escape")
                current.append(ch)
                escaped = False
            elif ch == "\\" and key is not None:
                escaped = True
            elif ch == "=" and key is None:
                key, current = "".join(current), []
            elif ch == ";":
                if key is None or not _KEY.match(key) or key in record:
                    raise problem("bad field")
                record[key] = "".join(current)
                key, current = None, []
            elif ch in "|\\":
                raise problem("unescaped character")
            else:
                current.append(ch)
        if escaped:
            raise problem("bad escape")
        if "id" not in record or record["id"] in records:
            raise problem("missing or repeated id")
        records[record["id"]] = record
    return records


def _format(record):
    escape = lambda value: re.sub(r"([\\;|=])", r"\\\1", value)
    keys = ["id"] + sorted(key for key in record if key != "id")
    fields = ";".join(f"{key}={escape(record[key])}" for key in keys)
    return f"{fields}|{sum(fields.encode()) % 256:02X}\n"


def _order(identifier):
    return (0, int(identifier), "") if re.fullmatch(r"[0-9]+", identifier) else (1, 0, identifier)


def merge(base, update):
    merged = _parse(base, "base")
    for identifier, changes in _parse(update, "update").items():
        if changes["id"] == "-":
            raise ValueError("update: the id cannot be removed")
        record = dict(merged.get(identifier, {}))
        for key, value in changes.items():
            if value == "-":
                record.pop(key, None)
            else:
                record[key] = value
        merged[identifier] = record
    return "".join(_format(merged[identifier]) for identifier in sorted(merged, key=_order))
