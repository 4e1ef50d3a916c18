"""The durable job queue's runner: what a job handler is and how it holds, finishes or fails a
job (``handlers``), and the worker that claims and runs them (``worker``)."""
