class CycleError(Exception):
    def __init__(self, cycle):
        super().__init__(f"cycle among {cycle}")
        self.cycle = cycle


def build_order(deps):
    raise NotImplementedError
