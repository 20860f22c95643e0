"""Adapters: the CLI, the REST API, the national envelope and the console.

Each parses its input, calls one service function and shapes the answer; no business
rule lives here.
"""
