"""registrar's benchmarks: each prints its figures beside their budgets (``make bench`` runs them all)."""
