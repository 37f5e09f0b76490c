import re

_SECTION = re.compile(r"^\[(.*)\]\s*$")


class IniError(Exception):
    def __init__(self, line_number):
        super().__init__(f"line {line_number}")
        self.line_number = line_number


def parse_ini(text):
    sections = {}
    current = ""
    last_key = None
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if line[0] in " \t":
            if last_key is None:
                raise IniError(number)
            section = sections[current]
            section[last_key] = section[last_key] + "\n" + stripped
            continue
        section_match = _SECTION.match(line)
        if section_match:
            current = section_match.group(1).strip()
            sections.setdefault(current, {})
            last_key = None
            continue
        cuts = [index for index in (line.find("="), line.find(":")) if index >= 0]
        if not cuts:
            raise IniError(number)
        cut = min(cuts)
        key = line[:cut].strip().lower()
        if not key:
            raise IniError(number)
        sections.setdefault(current, {})[key] = line[cut + 1:].strip()
        last_key = key
    return sections
