"""Operations: request ids and structured logs, Prometheus metrics, backups."""
