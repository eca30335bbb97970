"""Neo: a finished compilation job becomes an additional inference specification of its package version.

- :mod:`registrar.neo.targets`: which targets SageMaker hosts, on which instance types.
- :mod:`registrar.neo.spec`: the specification (name, container, instance types) for one job.
- :mod:`registrar.neo.link`: which package version a job belongs to.
- :mod:`registrar.neo.decide`: what a job changes on its package (pure).
- :mod:`registrar.neo.service`: the flow (``parse``, ``NeoFlow.resolve``, ``decide_and_write``).
- :mod:`registrar.neo.sweep`: find the jobs that ended since the watermark and announce them.
"""
