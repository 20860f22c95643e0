"""Fund supervision rules as data (issue 22): the rule set's strict schema and its
loader (``schema``, ``load``). Pure: text in, ``RuleSet`` out; the scan that evaluates
the rules over Polars tables lives in ``yibao.services.supervision``."""

from yibao.core.supervision.load import parse_rules, rules_sha256
from yibao.core.supervision.schema import KINDS, SEVERITIES, Rule, RuleSet, RuleVersion

__all__ = ["KINDS", "SEVERITIES", "Rule", "RuleSet", "RuleVersion", "parse_rules",
           "rules_sha256"]  # fmt: skip
