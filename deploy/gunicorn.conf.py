# gunicorn settings for scim-gateway (used by `scim-gateway serve --gunicorn-config` and the
# quick start; or run gunicorn yourself:
#   SCIM_GATEWAY_CONFIG=/etc/scim-gateway/settings.yaml \
#   gunicorn -c deploy/gunicorn.conf.py 'gateway.web.app:create_app()'
# (Only `scim-gateway serve` checks a new map before HUP restarts the workers; under plain
# gunicorn, a HUP with a broken map stops the service.)
# `bind` is left out on purpose: the settings file's `listen` (or --listen) decides.

from gateway.observability.multiprocess import child_exit  # noqa: F401  (a gunicorn hook: drops a dead worker's live gauges)
from gateway.observability.multiprocess import prepare as _prepare_metrics

# Every worker counts its metrics in files that /metrics adds up (PROMETHEUS_MULTIPROC_DIR: set
# it to a directory of this instance's own, or a private one is made). `scim-gateway serve` does
# this itself; here it is for those who run gunicorn directly.
_prepare_metrics()

# Threads share one worker's directory connections; each concurrent request gets its own
# connection from the worker's pool. Entra sends at most a few requests at a time per job.
worker_class = "gthread"
workers = 2
threads = 4

# An LDAP write plus its post-read stays well under a second; 60 s leaves room for a slow
# directory before gunicorn kills the worker (the directory timeout in the settings is 10 s).
timeout = 60
graceful_timeout = 20
# Entra keeps connections open between requests; outlive a typical reverse proxy's idle timeout.
keepalive = 75

# The gateway logs one line per request itself (method, path, status, time, tenant, request id;
# never a header, so never a token). gunicorn's access log would only repeat it.
accesslog = None
errorlog = "-"
loglevel = "info"

# Behind a reverse proxy on the same host. Which X-Forwarded-* headers the gateway trusts is
# decided in its settings, not here.
forwarded_allow_ips = "127.0.0.1"

# gunicorn's control socket (gunicornc) is not used; without this every instance on a host
# would fight over ~/.gunicorn/gunicorn.ctl.
control_socket_disable = True

# Heartbeat files in memory: works on a read-only root filesystem (containers, systemd
# ProtectSystem=strict) and avoids stalls on slow disks.
worker_tmp_dir = "/dev/shm"
