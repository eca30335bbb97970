"""The ``registrar`` command: operating a deployment from a laptop (``plan``, ``apply``, ``sweep``, ``redrive``,
``policy check``).

It needs the runtime install only (``pip install .``) and reuses the very flows the functions run;
``registrar emulator`` and ``registrar demo`` come with the development extra (:mod:`registrar_dev`).
"""
