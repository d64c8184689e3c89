"""The tamper-evident decision ledger: RFC 9162 Merkle tree, signed checkpoints, offline verifier."""
