"""Spillage incidents: sealed quarantine, the incident record, out-of-band alerts, officers' tools.

Modules: `quarantine` (keys and HPKE sealing), `models` (tables), `records` (what callers see),
`service` (`IncidentService`), `alerts` (webhook outbox), `message` (the user's 403 notice),
`cli` and `routes` (security officers' console and HTTP API).
"""
