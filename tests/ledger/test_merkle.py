import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from accord.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS: dict[str, Any] = json.loads((Path(__file__).parent / "merkle_vectors.json").read_text())


def naive_root(leaves: list[bytes]) -> bytes:
    """MTH straight from the RFC's recursive definition, independent of the module under test."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + naive_root(leaves[:k]) + naive_root(leaves[k:])).digest()


def naive_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return [*naive_path(m, leaves[:k]), naive_root(leaves[k:])]
    return [*naive_path(m - k, leaves[k:]), naive_root(leaves[:k])]


def naive_subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [naive_root(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*naive_subproof(m, leaves[:k], complete), naive_root(leaves[k:])]
    return [*naive_subproof(m - k, leaves[k:], False), naive_root(leaves[:k])]


def b64(value: str) -> bytes:
    return base64.b64decode(value)


def rfc_tree() -> tuple[list[bytes], MemoryTree]:
    leaves = [bytes.fromhex(h) for h in VECTORS["leaf_inputs_hex"]]
    return leaves, MemoryTree(leaf_hash(d) for d in leaves)


def test_empty_tree_root_is_hash_of_nothing() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert CompactRange().root() == EMPTY_ROOT


def test_roots_match_published_vectors() -> None:
    leaves, tree = rfc_tree()
    for size, expected in enumerate(VECTORS["roots_hex"], start=1):
        assert tree.root(size).hex() == expected
        assert naive_root(leaves[:size]).hex() == expected


def test_published_inclusion_vectors_verify_and_regenerate() -> None:
    _, tree = rfc_tree()
    for case in VECTORS["inclusion"]:
        proof = [b64(p) for p in case["proof"]]
        index, size = case["leafIdx"], case["treeSize"]
        assert verify_inclusion(index, size, b64(case["leafHash"]), proof, b64(case["root"]))
        assert tree.inclusion_proof(index, size) == proof


def test_published_consistency_vectors_verify_and_regenerate() -> None:
    _, tree = rfc_tree()
    for case in VECTORS["consistency"]:
        proof = [b64(p) for p in case["proof"]]
        args = (case["size1"], case["size2"], b64(case["root1"]), b64(case["root2"]))
        assert verify_consistency(*args, proof)
        assert tree.consistency_proof(case["size1"], case["size2"]) == proof


def test_rfc_seven_leaf_example_paths() -> None:
    # RFC 9162 §2.1.5: leaves d0..d6, nodes a..l. Audit path of d0 is [b, h, l], of d3 [c, g, l],
    # of d4 [f, j, k] and of d6 [i, k]; consistency PROOF(3) = [c, d, g, l], PROOF(4) = [l],
    # PROOF(6) = [i, j, k].
    data = [f"d{i}".encode() for i in range(7)]
    a, b, c, d, e, f, j = (leaf_hash(x) for x in data)
    g, h, i = node_hash(a, b), node_hash(c, d), node_hash(e, f)
    k, l = node_hash(g, h), node_hash(i, j)  # noqa: E741 - the RFC's own name
    root = node_hash(k, l)
    tree = MemoryTree(leaf_hash(x) for x in data)
    assert tree.root() == root
    assert tree.inclusion_proof(0) == [b, h, l]
    assert tree.inclusion_proof(3) == [c, g, l]
    assert tree.inclusion_proof(4) == [f, j, k]
    assert tree.inclusion_proof(6) == [i, k]
    assert tree.consistency_proof(3) == [c, d, g, l]
    assert tree.consistency_proof(4) == [l]
    assert tree.consistency_proof(6) == [i, j, k]


def test_all_sizes_up_to_64_match_naive_recursion() -> None:
    leaves = [f"leaf-{i}".encode() for i in range(64)]
    tree = MemoryTree(leaf_hash(x) for x in leaves)
    roots = [naive_root(leaves[:n]) for n in range(65)]
    for n in range(1, 65):
        assert tree.root(n) == roots[n]
        for m in range(n):
            path = tree.inclusion_proof(m, n)
            assert path == naive_path(m, leaves[:n])
            assert verify_inclusion(m, n, leaf_hash(leaves[m]), path, roots[n])
        for m in range(0, n + 1):
            proof = tree.consistency_proof(m, n)
            expected = [] if m in (0, n) else naive_subproof(m, leaves[:n], True)
            assert proof == expected
            assert verify_consistency(m, n, roots[m], roots[n], proof)


def flip_bit(value: bytes, bit: int = 4) -> bytes:
    return bytes([value[0] ^ (1 << bit)]) + value[1:]


def test_corrupted_inclusion_proofs_are_rejected() -> None:
    leaves = [f"x{i}".encode() for i in range(37)]
    tree = MemoryTree(leaf_hash(x) for x in leaves)
    n, root = 37, tree.root()
    for m in range(n):
        lh, path = leaf_hash(leaves[m]), tree.inclusion_proof(m)
        assert verify_inclusion(m, n, lh, path, root)
        for pos in range(len(path)):
            bad = path.copy()
            bad[pos] = flip_bit(bad[pos])
            assert not verify_inclusion(m, n, lh, bad, root)
        assert not verify_inclusion(m, n, flip_bit(lh), path, root)
        assert not verify_inclusion(m, n, lh, path, flip_bit(root))
        assert not verify_inclusion((m + 1) % n, n, lh, path, root)
        # A proof does not pin the size on its own (the signed root does), so change its shape:
        assert not verify_inclusion(m, n * 2, lh, path, root)
        if m < n // 2:
            assert not verify_inclusion(m, n // 2, lh, path, root)
        assert not verify_inclusion(m, n, lh, path[:-1], root)
        assert not verify_inclusion(m, n, lh, [*path, root], root)
        assert not verify_inclusion(m, n, lh, [root, *path], root)
        assert not verify_inclusion(m, n, lh, [p[:31] for p in path], root)
    assert not verify_inclusion(n, n, leaf_hash(b"x"), [], root)
    assert not verify_inclusion(-1, n, leaf_hash(b"x"), [], root)


def test_corrupted_consistency_proofs_are_rejected() -> None:
    leaves = [f"y{i}".encode() for i in range(29)]
    tree = MemoryTree(leaf_hash(x) for x in leaves)
    n = 29
    new_root = tree.root()
    for m in range(1, n):
        old_root, proof = tree.root(m), tree.consistency_proof(m)
        assert verify_consistency(m, n, old_root, new_root, proof)
        for pos in range(len(proof)):
            bad = proof.copy()
            bad[pos] = flip_bit(bad[pos])
            assert not verify_consistency(m, n, old_root, new_root, bad)
        assert not verify_consistency(m, n, flip_bit(old_root), new_root, proof)
        assert not verify_consistency(m, n, old_root, flip_bit(new_root), proof)
        assert not verify_consistency(m, n, new_root, old_root, proof)
        assert not verify_consistency(m + 1, n, old_root, new_root, proof)
        assert not verify_consistency(m, n * 2, old_root, new_root, proof)
        if m < n // 2:
            assert not verify_consistency(m, n // 2, old_root, new_root, proof)
        assert not verify_consistency(m, n, old_root, new_root, proof[:-1])
        assert not verify_consistency(m, n, old_root, new_root, [*proof, new_root])
        assert not verify_consistency(m, n, old_root, new_root, [old_root, *proof])
        assert not verify_consistency(m, n, old_root, new_root, [])
    assert not verify_consistency(n, n, new_root, flip_bit(new_root), [])
    assert not verify_consistency(n + 1, n, new_root, new_root, [])


@pytest.mark.parametrize("size", [1, 2, 3, 1000, 4097])
def test_compact_range_append_and_extend_agree(size: int) -> None:
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    one_by_one, bulk = CompactRange(), CompactRange()
    for h in hashes:
        one_by_one.append(h)
    bulk.extend(hashes)
    assert one_by_one.root() == bulk.root() == MemoryTree(hashes).root()
    assert CompactRange(size, bulk.hashes).root() == bulk.root()
    with pytest.raises(ValueError):
        CompactRange(size, [*bulk.hashes, EMPTY_ROOT])
