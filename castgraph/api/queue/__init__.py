"""Scale-out: Celery on Redis runs the scheduler tick and each episode's steps on any number of
workers (``castgraph worker``, ``castgraph beat``); the catalog keeps every job's state."""
