"""gunicorn's settings for the scaled web processes: `gunicorn -c gunicorn.conf.py -w 4 'app:create_app()'`.

Threads (gthread), not gunicorn's default sync workers: a sync worker holds its whole process after
each response until the client closes the connection (gunicorn 23 and later drain it, for up to
2 s), and never keeps a connection alive, so a slow proxy or client idles the process. A gthread
worker frees the thread as soon as the response is written and keeps connections alive. The service
is safe under threads (the embedded server runs it threaded too).
"""
import os

worker_class = "gthread"
threads = 4


def child_exit(server, worker):
    """With PROMETHEUS_MULTIPROC_DIR set, a web process that exits leaves its figures to the rest."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
