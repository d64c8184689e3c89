from __future__ import annotations

from accord.incidents.message import spillage_message


def test_spillage_message_follows_the_user_level_rule() -> None:
    message = spillage_message("inc_abc123")
    assert "inc_abc123" in message
    for instruction in ("Do not retype, forward, copy or delete", "security officer"):
        assert instruction in message
