"""Policy-driven approval: the policy model, the evidence, the pure decision and the service that wires I/O.

``policy`` (load and validate), ``evidence`` (what a decision is made on), ``decide`` (pure),
``service`` (``handle``: event -> Outcome). PyYAML is imported only when a policy is parsed.
"""

from registrar.approval.decide import Check, Decision, decide, desired_update, precheck
from registrar.approval.evidence import Evidence
from registrar.approval.policy import Policy, Rule, describe_policy, load_policy, parse_policy
from registrar.approval.service import PACKAGE_TAG, handle

__all__ = [
    "PACKAGE_TAG",
    "Check",
    "Decision",
    "Evidence",
    "Policy",
    "Rule",
    "decide",
    "describe_policy",
    "desired_update",
    "handle",
    "load_policy",
    "parse_policy",
    "precheck",
]
