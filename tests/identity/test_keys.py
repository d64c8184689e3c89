from accord.identity.keys import PREFIX, hash_secret, new_key, parse_key, secret_matches


def test_new_key_is_recognisable_and_stored_only_as_hash() -> None:
    key_id, key, stored = new_key()
    assert key.startswith(PREFIX + key_id + "_")
    parsed = parse_key(key)
    assert parsed is not None and parsed.key_id == key_id
    assert parsed.secret not in stored
    assert secret_matches(parsed.secret, stored)
    assert not secret_matches(parsed.secret + "x", stored)


def test_keys_are_unique_and_malformed_ones_do_not_parse() -> None:
    assert len({new_key()[1] for _ in range(100)}) == 100
    for token in ("", "sk-abc", "acc_", "acc_nounderscore", "acc__secret", "acc_id_"):
        assert parse_key(token) is None
    assert hash_secret("a") != hash_secret("b")
