"""A real PostgreSQL server for the tests (the benchmark's own, bench/postgres.py)."""

from bench.postgres import PostgresServer

__all__ = ["PostgresServer"]
