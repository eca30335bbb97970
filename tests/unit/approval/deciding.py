"""decide() as the approval flow calls it: with the rule precheck matched to the package's group."""

from __future__ import annotations

from registrar.approval.decide import Decision, decide, precheck
from registrar.approval.evidence import Evidence
from registrar.approval.policy import MatchedRule, Policy
from registrar.package import ModelPackage


def decided(package: ModelPackage, evidence: Evidence, policy: Policy, champion: Evidence | None) -> Decision:
    """``decide(package, evidence, policy, <the rule precheck matched>, champion)``; fails if precheck matched none."""
    matched = precheck(package, policy)
    assert isinstance(matched, MatchedRule), f"precheck decided the package is not to be decided: {matched}"
    return decide(package, evidence, policy, matched, champion)
