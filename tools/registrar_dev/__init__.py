"""registrar's development package: the embedded AWS emulator, the deployed topology run locally, and the demo.

Installed with the development extra (``pip install 'registrar[dev]'``, or ``make setup``): it needs
moto. The runtime package (:mod:`registrar`) never imports it and the Lambda asset does not carry it;
it drives the runtime from outside, as AWS would (EventBridge rules, SQS queues, Lambda's event source
mapping), and reads what the functions did from their logs, as an operator would.

- :mod:`registrar_dev.emulator`: moto in server mode on loopback, with SageMaker fidelity fixes.
- :mod:`registrar_dev.topology`: the stack's rules, queues, table and policy parameter, on the emulator.
- :mod:`registrar_dev.runner`: a local event source mapping (poll, invoke, partial batch response).
- :mod:`registrar_dev.faults`: fault injection into registrar's own AWS calls.
- :mod:`registrar_dev.outcomes`: what the functions handled, read from their ``event handled`` log lines.
- :mod:`registrar_dev.support`: what tests, benchmarks and the demo share (clients, jobs, environments).
- :mod:`registrar_dev.demo`, :mod:`registrar_dev.demo_output`: ``registrar demo``.
"""
