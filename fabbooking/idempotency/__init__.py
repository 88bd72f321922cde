"""First answers kept under the client's Idempotency-Key, so a retried POST changes nothing."""
