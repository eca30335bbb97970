"""Neo: a finished compilation job becomes an additional inference specification of its package version.

- :mod:`registrar.neo.targets`: which targets SageMaker hosts, on which instance types.
- :mod:`registrar.neo.spec`: the specification (name, container, instance types) for one job.
- :mod:`registrar.neo.link`: which package version a job belongs to.
- :mod:`registrar.neo.decide`: what a job changes on its package (pure).
- :mod:`registrar.neo.service`: register one job against SageMaker (read, decide, plan, apply).
- :mod:`registrar.neo.sweep`: find the jobs that ended since the watermark.
"""

from registrar.neo.decide import NeoDecision, decide, desired_update
from registrar.neo.job import CompilationJob
from registrar.neo.link import Link, link
from registrar.neo.spec import build_specification, specification_name
from registrar.neo.targets import family_for, instance_types

__all__ = [
    "CompilationJob",
    "Link",
    "NeoDecision",
    "build_specification",
    "decide",
    "desired_update",
    "family_for",
    "instance_types",
    "link",
    "specification_name",
]
