"""yibao (医保): medical-insurance settlement and fund management.

The settlement engine (`yibao.core`) is pure; services, the store and the adapters
(CLI, REST API, national envelope) are layered around it. See docs/architecture.md.
"""

__version__ = "0.1.0"
