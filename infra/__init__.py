"""registrar's infrastructure: CDK constructs, one per concern, mirroring functions/.

:mod:`infra.app` composes the stack (``app.py`` at the project root runs it). :mod:`infra.layer`,
:mod:`infra.function_code` and :mod:`infra.lambda_layout` build what the functions run and import no CDK,
so tests and benchmarks use them without starting the CDK's runtime.
"""
