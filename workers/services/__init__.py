"""What the API and the CLI call: jobs, chat requests, batches, files, outputs, webhooks."""
