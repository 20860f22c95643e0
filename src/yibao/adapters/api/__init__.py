"""The REST API (FastAPI): ``/v1`` resources and the national envelope at ``/nhsa``.

``create_app`` wires it (app.py); routes.py, queries.py, deferred.py and nhsa.py are thin
adapters over
``yibao.services``; docs/API.md is the reference (routes, roles, idempotency, errors).
"""
