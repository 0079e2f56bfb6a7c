"""Drop-in module trees for the libraries burnguard replaces: change one import to migrate.

* ``burnguard.compat.slo_budget_tracker`` for ``slo_budget_tracker`` 0.1.1
* ``burnguard.compat.cloudcircuit`` for ``cloudcircuit`` 0.3.8
"""
