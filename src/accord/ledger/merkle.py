"""RFC 9162 §2.1 Merkle tree hashing and proofs (the same tree as RFC 6962).

Pure functions over ``hashlib`` with no I/O, so the overseer's verifier can import this module alone.
Indices are 0-based. A *node id* ``(level, index)`` names the perfect subtree covering leaves
``[index << level, (index + 1) << level)``; every proof is planned as lists of node ids so the store
can fetch exactly the hashes it needs in one query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeId = tuple[int, int]
# A proof element is the right fold of one or more perfect subtrees (one, unless the range is ragged).
ProofPlan = list[list[NodeId]]
NodeLookup = Callable[[NodeId], bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two strictly less than ``size`` (``size`` >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


class CompactRange:
    """The frontier of a tree of ``size`` leaves: the roots of its perfect subtrees, left to right.

    Appending is amortised O(1) and needs only this list, so a million leaves fit in a few dozen hashes.
    """

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != size.bit_count():
            raise ValueError(
                f"a compact range of size {size} has {size.bit_count()} hashes, got {len(hashes)}"
            )
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; return every perfect node it completes, the leaf itself first."""
        index = self.size
        completed = [(0, index, leaf)]
        current = leaf
        level = 0
        while index & 1:
            current = node_hash(self.hashes.pop(), current)
            index >>= 1
            level += 1
            completed.append((level, index, current))
        self.hashes.append(current)
        self.size += 1
        return completed

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append without reporting completed nodes (the verifier's fast path)."""
        hashes = self.hashes
        size = self.size
        sha256 = hashlib.sha256
        for current in leaves:
            index = size
            while index & 1:
                current = sha256(b"\x01" + hashes.pop() + current).digest()
                index >>= 1
            hashes.append(current)
            size += 1
        self.size = size

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        current = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            current = node_hash(left, current)
        return current


def frontier_nodes(size: int) -> list[NodeId]:
    """The node ids of the perfect subtrees making up ``[0, size)``, left to right."""
    return range_nodes(0, size)


def range_nodes(start: int, end: int) -> list[NodeId]:
    """Decompose ``[start, end)`` into maximal aligned perfect subtrees, left to right."""
    nodes: list[NodeId] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """Hash of a range from its perfect subtrees (sizes decreasing left to right): a right fold."""
    current = hashes[-1]
    for left in reversed(hashes[:-1]):
        current = node_hash(left, current)
    return current


def inclusion_plan(index: int, size: int) -> ProofPlan:
    """PATH(index, D[size]) from RFC 9162 §2.1.3.1, as ranges of perfect nodes, leaf end first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    low, high = 0, size
    while high - low > 1:
        k = split_point(high - low)
        if index - low < k:
            ranges.append((low + k, high))
            high = low + k
        else:
            ranges.append((low, low + k))
            low = low + k
    return [range_nodes(start, end) for start, end in reversed(ranges)]


def consistency_plan(old_size: int, new_size: int) -> ProofPlan:
    """PROOF(old_size, D[new_size]) from RFC 9162 §2.1.4.1 as ranges of perfect nodes."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    ranges: list[tuple[int, int]] = []
    low, high, complete = 0, new_size, True
    m = old_size
    while True:
        if m == high - low:
            if not complete:
                ranges.append((low, high))
            break
        k = split_point(high - low)
        if m <= k:
            ranges.append((low + k, high))
            high = low + k
        else:
            ranges.append((low, low + k))
            m -= k
            low += k
            complete = False
    return [range_nodes(start, end) for start, end in reversed(ranges)]


def resolve(plan: ProofPlan, lookup: NodeLookup) -> list[bytes]:
    return [fold([lookup(node) for node in nodes]) for nodes in plan]


class MemoryTree:
    """All perfect node hashes of a tree held in memory: for tests, benchmarks and small bundles."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._range = CompactRange()
        self._nodes: dict[NodeId, bytes] = {}
        for leaf in leaf_hashes:
            self.append(leaf)

    @property
    def size(self) -> int:
        return self._range.size

    def append(self, leaf: bytes) -> None:
        for level, index, digest in self._range.append(leaf):
            self._nodes[(level, index)] = digest

    def node(self, node: NodeId) -> bytes:
        return self._nodes[node]

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} is outside a tree of size {self.size}")
        return fold([self._nodes[n] for n in frontier_nodes(size)]) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return resolve(inclusion_plan(index, self.size if size is None else size), self.node)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return resolve(consistency_plan(old_size, self.size if new_size is None else new_size), self.node)


def _all_digests(values: Iterable[bytes]) -> bool:
    return all(isinstance(v, bytes) and len(v) == HASH_SIZE for v in values)


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2. Returns False, never raises, for any malformed or wrong input."""
    if not (0 <= index < size and _all_digests([leaf, root, *proof])):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2, plus the trivial cases (empty old tree, equal sizes) with empty proofs."""
    if not (0 <= old_size <= new_size and _all_digests([old_root, new_root, *proof])):
        return False
    if old_size == 0:
        return not proof
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
