"""Reply trees to linear conversations (shared by the oasst and convokit importers).

Policies (option ``paths``):

* ``best``: one conversation per tree, following at each step the best-ranked reply (the lowest
  ``rank``, 0 = best; unranked replies come after ranked ones, then by time, then file order);
* ``all``: one conversation per root-to-leaf path (a message shared by several paths appears in
  each of them);
* ``thread`` (convokit only, handled there): every utterance of a conversation, in time order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Node = dict[str, Any]


def children_index(nodes: dict[str, Node], parent_key: str) -> dict[str | None, list[str]]:
    """Parent id -> child ids, in input order (roots under None)."""
    kids: dict[str | None, list[str]] = {}
    for nid, node in nodes.items():
        kids.setdefault(node.get(parent_key), []).append(nid)
    return kids


def subtree_size(nid: str, kids: dict[str | None, list[str]]) -> int:
    """Number of nodes under ``nid`` (not counting it)."""
    n, stack = 0, list(kids.get(nid, []))
    while stack:
        cur = stack.pop()
        n += 1
        stack.extend(kids.get(cur, []))
    return n


def best_path(root: str, kids: dict[str | None, list[str]], key: Callable[[str], Any]) -> list[str]:
    """Root to leaf, taking at each step the child with the smallest ``key``."""
    path = [root]
    while kids.get(path[-1]):
        path.append(min(kids[path[-1]], key=key))
    return path


def all_paths(root: str, kids: dict[str | None, list[str]]) -> Iterator[list[str]]:
    """Every root-to-leaf path, depth first, children in input order.

    One path is kept and extended or shortened by one node per step, and copied only at a leaf:
    the time is that of the paths' total length (a 100k-deep chain is one path of 100k).
    """
    if not kids.get(root):
        yield [root]
        return
    path = [root]
    todo = [iter(kids[root])]  # todo[i]: the children of path[i] not visited yet
    while todo:
        child = next(todo[-1], None)
        if child is None:
            todo.pop()
            path.pop()
            continue
        path.append(child)
        if kids.get(child):
            todo.append(iter(kids[child]))
        else:
            yield list(path)
            path.pop()


def unreachable(nodes: dict[str, Node], kids: dict[str | None, list[str]]) -> list[str]:
    """Nodes that no root reaches (reply cycles such as a -> b -> a), in input order."""
    seen: set[str] = set()
    stack = list(kids.get(None, []))
    while stack:
        cur = stack.pop()
        if cur not in seen:
            seen.add(cur)
            stack.extend(kids.get(cur, []))
    return [n for n in nodes if n not in seen]
