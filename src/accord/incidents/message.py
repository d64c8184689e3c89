"""What the user is told when their request is stopped as a possible spillage.

It follows the user-level rule of the IR-9 playbook: notify the security officer at once, do not
delete the text (it is left for forensic handling), do not retype, forward or copy it. The notice
is neutral and never repeats the marking or the text.
"""

from __future__ import annotations


def spillage_message(incident_id: str) -> str:
    return (
        "Possible spillage: this exchange appears to contain information marked above the "
        "classification this network is accredited for, so it was stopped and has not been passed on. "
        "Do not retype, forward, copy or delete the text, and do not try again with a reworded version. "
        f"Contact your security officer now and quote incident {incident_id}. "
        "Leave the material where it is until they tell you what to do."
    )
