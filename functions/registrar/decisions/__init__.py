"""People and systems hear of every decision: the ``Registrar Decision`` contract and how it is announced."""
