"""``nono run`` and ``nono wrap``: compile on the fly (cached), sandbox, run.

Modules: ``prepare`` (choose the profile, flags → policy, compile or cache hit),
``commands`` (the blocked-command check), ``account`` (``--dry-run``/``-v``),
``session`` (the parent: fork, signals, exit code, hook points for the proxy, rollback,
audit, trust and the supervisor), ``start`` (the sequence both commands share),
``cachelimit`` (the ``cache_size`` setting).
"""
