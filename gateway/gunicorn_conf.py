"""gunicorn settings for scim-gateway, shipped in the package so `scim-gateway serve` needs no file.

Precedence, lowest first: these defaults < a `--gunicorn-config` file (deploy/gunicorn.conf.py,
for overrides only) < what the settings file says (`listen`, `workers`, `threads`, `log_level`)
< the command line (`--listen`). To run plain gunicorn instead, use deploy/gunicorn.conf.py,
which takes these and also prepares the metrics of every worker. Importing this module has no
side effect.
"""

from gateway.observability.multiprocess import child_exit  # noqa: F401  (a gunicorn hook: drops a dead worker's live gauges)

# `bind`, `workers` and `threads` come from the settings file (listen, workers, threads).

# Threads share one worker's directory connections; each concurrent request gets its own
# connection from the worker's pool. Entra sends at most a few requests at a time per job.
worker_class = "gthread"

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
loglevel = "info"  # the settings' log_level replaces it

# Which X-Forwarded-For the gateway believes is its settings' `trusted_proxies`, not gunicorn's.
forwarded_allow_ips = "127.0.0.1"

# gunicorn's control socket (gunicornc) is not used; without this every instance on a host
# would share ~/.gunicorn/gunicorn.ctl (and a service user may have no home to put it in).
control_socket_disable = True

# Heartbeat files in memory: works on a read-only root filesystem (containers, systemd
# ProtectSystem=strict) and avoids stalls on slow disks.
worker_tmp_dir = "/dev/shm"
