class QuillError(Exception):
    def __init__(self, line, reason=""):
        super().__init__(f"line {line}: {reason}")
        self.line = line


def parse_quill(text):
    raise NotImplementedError
