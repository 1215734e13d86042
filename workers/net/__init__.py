"""The network edge: the SSRF guard and the guarded downloader."""
