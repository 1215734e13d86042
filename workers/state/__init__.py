"""Redis records: jobs, batches, files, leases, idempotency, caches, metrics, blob references."""
