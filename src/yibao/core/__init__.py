"""The pure core: money, policy packs, the settlement engine, the ledger.

Nothing here does I/O, reads a clock or the environment, or imports from services,
store or adapters (an import-linter contract in `make test` enforces it).
"""
