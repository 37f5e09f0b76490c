import heapq


class CycleError(Exception):
    def __init__(self, cycle):
        super().__init__(f"cycle among {cycle}")
        self.cycle = cycle


def build_order(deps):
    nodes = set(deps)
    for needed in deps.values():
        nodes.update(needed)
    waiting = {node: set(deps.get(node, [])) for node in nodes}
    users = {node: set() for node in nodes}
    for node, needed in waiting.items():
        for dep in needed:
            users[dep].add(node)
    ready = [node for node, needed in waiting.items() if not needed]
    heapq.heapify(ready)
    order = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for user in users[node]:
            waiting[user].discard(node)
            if not waiting[user]:
                heapq.heappush(ready, user)
    if len(order) < len(nodes):
        raise CycleError(sorted(_on_cycles(deps, nodes - set(order))))
    return order


def _on_cycles(deps, left):
    """Nodes of the leftover graph that can reach themselves."""
    def reaches(start):
        seen, stack = set(), list(deps.get(start, []))
        while stack:
            node = stack.pop()
            if node == start:
                return True
            if node in seen or node not in left:
                continue
            seen.add(node)
            stack.extend(deps.get(node, []))
        return False
    return [node for node in left if reaches(node)]
