"""The demo district (``yibao demo load``, ``district``) and its demo hospital: a key and
a confirmed patient's stay to settle through the API (``hospital``)."""

from yibao.services.tools.demo.district import load_demo
from yibao.services.tools.demo.hospital import demo_case, demo_key

__all__ = ["demo_case", "demo_key", "load_demo"]
