"""What the gateway tells its operator: the request context, logs, metrics and the audit trail."""
