"""gunicorn settings shared by every way Ferry's web process starts (gunicorn reads this file from
the working directory): Procfile, compose, ``ferry serve``/``ferry up`` and the benchmarks."""

# Keep idle client connections longer than clients and load balancers do (e.g. AWS ALB: 60 s), so the
# server never closes a connection in the instant a client reuses it (seen as ReadError under load).
keepalive = 75
worker_class = "gthread"
# Submits wait on Redis and storage writes, not the CPU: threads per process.
threads = 8
graceful_timeout = 30
