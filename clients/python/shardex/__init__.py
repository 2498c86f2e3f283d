"""shardex: a Python client of a shardex coordinator (README.md).

    import shardex
    with shardex.Client() as c:
        job = c.submit("primes", {"to": "1e6"})
        print(c.result(job).value)   # 78498, an int

`shardex.pb` is the generated message module (JobStatus, JobSpec, ...).
"""
from ._proto import shardex_pb2 as pb
from .client import Client, Result, ShardexError, TERMINAL_STATES, typed
from .config import resolve

__all__ = ["Client", "Result", "ShardexError", "TERMINAL_STATES", "pb",
           "resolve", "typed"]
