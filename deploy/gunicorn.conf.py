# gunicorn settings for scim-gateway. `scim-gateway serve` needs no file: its defaults live in the
# package (gateway/gunicorn_conf.py). Pass this one with `--gunicorn-config deploy/gunicorn.conf.py`
# to change something (add it below); what the settings file says (listen, workers, threads,
# log_level) and the command line (--listen) still win over it. Or run gunicorn yourself:
#   SCIM_GATEWAY_CONFIG=/etc/scim-gateway/settings.yaml \
#   gunicorn -c deploy/gunicorn.conf.py 'gateway.web.app:create_app()'
# (Only `scim-gateway serve` checks a new map before HUP restarts the workers, and keeps a last
# good copy; under plain gunicorn, a HUP with a broken map stops the service.)

from gateway.gunicorn_conf import *  # noqa: F403  (the package's settings and the child_exit hook)
from gateway.observability.multiprocess import prepare as _prepare_metrics

# Every worker counts its metrics in files that /metrics adds up (PROMETHEUS_MULTIPROC_DIR: set
# it to a directory of this instance's own, or a private one is made). `scim-gateway serve` does
# this itself; here it is for those who run gunicorn directly.
_prepare_metrics()

# For example, a directory that is slow to answer:
# timeout = 120
