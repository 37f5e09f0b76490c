def merge(base: str, update: str) -> str:
    raise NotImplementedError
