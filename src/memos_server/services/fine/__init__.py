"""Fine mode, the pipeline a model drives: extraction of facts and preferences (``extraction``),
reconciliation with what is known (``reconcile``), the one applier of its decisions
(``applier``), the ``refine`` and ``feedback`` jobs, and ``/extract/memory``."""
