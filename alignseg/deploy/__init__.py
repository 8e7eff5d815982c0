"""Deployment: complexity counting, export with parity checks, runtimes and speed benchmarks."""
