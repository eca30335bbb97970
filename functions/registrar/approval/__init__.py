"""Policy-driven approval: the policy model, the evidence, the pure decision and the flow that wires I/O.

- :mod:`registrar.approval.policy`: load and validate the policy (PyYAML only for a YAML file).
- :mod:`registrar.approval.evidence`: what a decision is made on (reports, evaluation jobs).
- :mod:`registrar.approval.decide`: package + evidence + rule -> Decision -> desired update (pure).
- :mod:`registrar.approval.service`: the flow (``parse``, ``ApprovalFlow.resolve``, ``decide_and_write``).
"""
