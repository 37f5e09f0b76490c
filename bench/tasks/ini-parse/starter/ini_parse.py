class IniError(Exception):
    def __init__(self, line_number):
        super().__init__(f"line {line_number}")
        self.line_number = line_number


def parse_ini(text):
    raise NotImplementedError
