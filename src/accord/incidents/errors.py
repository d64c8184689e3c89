"""What can go wrong with an incident, split so the routes and CLI can answer precisely."""

from __future__ import annotations


class IncidentError(Exception):
    """The incident could not be recorded or acted on; a caller blocking a spill must refuse the request."""


class IncidentNotFound(IncidentError):
    def __init__(self, incident_id: str) -> None:
        super().__init__(f"incident {incident_id} does not exist")
        self.incident_id = incident_id


class IncidentAccessDenied(IncidentError):
    """Only security officers may see or act on incidents."""


class IncidentStateError(IncidentError):
    """The act does not fit the incident's status, e.g. decrypting a purged incident."""


class IncidentKeyMismatch(IncidentError):
    """The private key given does not open this incident's sealed text (another key pair)."""


class IncidentInputError(IncidentError):
    """A note or resolution that is empty or too long."""
