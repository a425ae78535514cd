"""gunicorn settings for importhub: `gunicorn -c deploy/gunicorn.conf.py importhub.wsgi`."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 2))
# Uploads of large files stream to disk and are quick-validated in the request.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 600))
graceful_timeout = 30
# Restart workers now and then so no slow leak builds up.
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 27 opens a control socket under ~/.gunicorn by default, shared by every gunicorn of the user.
control_socket_disable = True


def child_exit(server, worker):
    """A stopped worker's live gauges leave the shared metrics (PROMETHEUS_MULTIPROC_DIR); its counters stay."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
