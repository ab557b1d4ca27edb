# Overrides for scim-gateway's gunicorn settings. The defaults live in the package
# (gateway/gunicorn_conf.py) and `scim-gateway serve` uses them without this file; pass it with
# `--gunicorn-config deploy/gunicorn.conf.py` only to change something. What the settings file
# says (listen, workers, threads) and the command line (--listen) still win over this file.
#
# For example, a directory that is slow to answer:
# timeout = 120
