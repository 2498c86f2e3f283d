#!/usr/bin/env python3
"""Regenerates the seed corpora in fuzz/corpus/ (docs/fuzzing.md).

    python3 fuzz/make_seeds.py      # from the repository root

spec_fuzzer seeds: each JobSpec below in text format (<name>.textproto) and
binary (<name>.bin, encoded by the system protoc).

journal_fuzzer seeds: inputs in the harness's structured format (flags byte,
then journal records; see journal_fuzzer.cc), and raw state.db files built
with the journal's own schema (flags byte with bit 0 set, then the file).

Needs protoc (protobuf-compiler) and Python's sqlite3. Deterministic: the
same files every run.
"""
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTO = "proto/shardex.proto"

SPECS = {
    "primes": 'kernel: "primes" args { key: "to" value: "1e6" }',
    "primes_from_to_shards": (
        'kernel: "primes" args { key: "from" value: "10^9" } '
        'args { key: "to" value: "1_000_001_000" } shards: 7'),
    "pi_seed": ('kernel: "pi" args { key: "samples" value: "2.5e9" } '
                'args { key: "seed" value: "42" } shards: 16'),
    "sleep_tasks": 'kernel: "sleep" args { key: "ms" value: "0" } shards: 3',
    "hashsearch": ('kernel: "hashsearch" args { key: "prefix" value: "abc" } '
                   'args { key: "bits" value: "20" } '
                   'args { key: "max-nonce" value: "2^40" }'),
    "mandelbrot": (
        'kernel: "mandelbrot" args { key: "width" value: "64" } '
        'args { key: "height" value: "48" } args { key: "out" value: "m.png" } '
        'args { key: "max-iter" value: "100" } '
        'args { key: "center-x" value: "-0.75" } '
        'args { key: "center-y" value: "0.1" } '
        'args { key: "scale" value: "1e-3" }'),
    "wordcount": 'kernel: "wordcount" args { key: "files" value: "a.txt\\nempty" }',
    "grep_regex": (
        'kernel: "grep" args { key: "pattern" value: "al(pha|x)[[:alpha:]]*$" } '
        'args { key: "files" value: "a.txt\\nlines.txt" } '
        'args { key: "count" value: "true" } '
        'args { key: "ignore-case" value: "true" }'),
    "grep_fixed": (
        'kernel: "grep" args { key: "pattern" value: "a.b" } '
        'args { key: "files" value: "a.txt" } args { key: "fixed" value: "true" }'),
    "command_tasks": 'command { argv: "echo" argv: "{shard}/{shards}" } shards: 4',
    "command_range_sum": (
        'command { argv: "seq" argv: "{begin}" argv: "{end}" has_range: true '
        'range_begin: 1 range_end: 1000000 reduce: "sum" } shards: 10'),
    "command_inputs_sort": (
        'command { argv: "sort" argv: "{input}" inputs: "a.txt" inputs: "empty" '
        'reduce: "sort" timeout_ms: 1000 max_output_bytes: 65536 }'),
    "command_lines_reduce_cmd": (
        'command { argv: "wc" argv: "-l" lines: "lines.txt" '
        'reduce_command: "paste -sd+ | bc" } shards: 2'),
    "command_shell_limits": (
        'command { argv: "echo $0 {shard} > {output}" shell: true '
        'max_memory_bytes: 1000000 max_cpu_seconds: 2 max_file_bytes: 4096 '
        'max_open_files: 16 no_retry_exit_codes: 2 no_retry_exit_codes: 255 }'),
    "output_dir": ('kernel: "primes" args { key: "to" value: "100" } '
                   'output_dir: "results"'),
    "unknown_kernel": 'kernel: "nope" args { key: "x" value: "1" }',
    "arg_too_large": 'kernel: "primes" args { key: "to" value: "1e20" }',
    "kernel_and_command": ('kernel: "sleep" args { key: "ms" value: "1" } '
                           'command { argv: "true" }'),
    "many_shards": ('kernel: "pi" args { key: "samples" value: "10^12" } '
                    'shards: 100000'),
    "nul_in_argv": 'command { argv: "a\\000b" }',
}


def protoc_encode(message, text):
    return subprocess.run(
        ["protoc", "--encode=shardex.v1." + message, "-I.", PROTO],
        input=text.encode(), capture_output=True, check=True, cwd=ROOT).stdout


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# ---- journal_fuzzer structured format (see journal_fuzzer.cc)

def enc_id(v):
    return bytes([v]) if v < 0xF0 else b"\xff" + struct.pack("<Q", v)


def enc_blob(b):
    assert len(b) < 65536
    return struct.pack("<H", len(b)) + b


def job_created(job_id, spec, request_id=b"", submit_ms=100):
    return b"\x00" + enc_id(job_id) + enc_blob(request_id) + enc_id(submit_ms) + enc_blob(spec)


def shard_accepted(job_id, shard, payload):
    return b"\x01" + enc_id(job_id) + enc_id(shard) + enc_blob(payload)


def job_ended(job_id, status):
    return b"\x02" + enc_id(job_id) + enc_blob(status)


def job_forgotten(job_id):
    return b"\x04" + enc_id(job_id)


def shards_accepted(job_id, entries):
    """One kShardsAccepted row; entries: ("plain", shard, payload),
    ("ranged", shard, begin, end, payload) or ("raw", bytes)."""
    out = b"\x05" + enc_id(job_id) + bytes([len(entries)])
    for e in entries:
        if e[0] == "plain":
            out += b"\x00" + enc_id(e[1]) + enc_blob(e[2])
        elif e[0] == "ranged":
            out += b"\x01" + enc_id(e[1]) + enc_id(e[2]) + enc_id(e[3]) + enc_blob(e[4])
        else:
            out += b"\x02" + enc_blob(e[1])
    return out


COMMIT = b"\x03"
ADD_WORKER, CANCEL_ALL, RAW = 2, 4, 1


def journal_seeds():
    spec = lambda text: protoc_encode("JobSpec", text)
    status = lambda text: protoc_encode("JobStatus", text)
    seeds = {}
    # Resumed with some shards accepted; a worker takes the rest.
    seeds["primes_partial"] = bytes([ADD_WORKER]) + job_created(
        1, spec('kernel: "primes" args { key: "to" value: "1000" } shards: 4'),
        b"req-1") + COMMIT + shard_accepted(1, 0, b"168") + shard_accepted(1, 2, b"0")
    # Every shard accepted: Recover reduces it.
    seeds["pi_complete"] = bytes([0]) + job_created(
        2, spec('kernel: "pi" args { key: "samples" value: "100" } '
                'args { key: "seed" value: "7" } shards: 2')) + COMMIT + \
        shard_accepted(2, 0, b"40") + shard_accepted(2, 1, b"39")
    # Ended jobs, one of them forgotten (--max-job-records).
    seeds["forgotten"] = bytes([0]) + job_created(
        13, spec('kernel: "sleep" args { key: "ms" value: "1" } shards: 1')) + \
        job_ended(13, status('job_id: 13 state: JOB_SUCCEEDED shards_total: 1')) + \
        job_created(14, spec('kernel: "sleep" args { key: "ms" value: "1" } shards: 1')) + \
        job_ended(14, status('job_id: 14 state: JOB_FAILED shards_total: 1')) + \
        COMMIT + job_forgotten(13) + job_forgotten(99)
    # An ended job next to an unfinished one, cancelled after recovery.
    seeds["ended_and_cancel"] = bytes([CANCEL_ALL | ADD_WORKER]) + job_created(
        3, spec('kernel: "sleep" args { key: "ms" value: "5" } shards: 3')) + \
        job_ended(3, status('job_id: 3 state: JOB_SUCCEEDED shards_total: 3 '
                            'result { value: "3" }')) + \
        job_created(4, spec('kernel: "sleep" args { key: "ms" value: "5" } shards: 2'),
                    b"req-4") + shard_accepted(4, 1, b"1")
    # hashsearch with a hit: Cutoff skips the later shards.
    seeds["hashsearch_cutoff"] = bytes([ADD_WORKER]) + job_created(
        5, spec('kernel: "hashsearch" args { key: "prefix" value: "x" } '
                'args { key: "bits" value: "8" } '
                'args { key: "max-nonce" value: "4096" } shards: 4')) + \
        shard_accepted(5, 1, b"found:1500")
    # Command jobs: a sum reduce, and a reduce command (run as `cat`).
    seeds["command_sum"] = bytes([0]) + job_created(
        6, spec('command { argv: "echo" has_range: true range_begin: 0 '
                'range_end: 10 reduce: "sum" } shards: 2')) + \
        shard_accepted(6, 0, b"1\n2\n") + shard_accepted(6, 1, b"3.5\n")
    seeds["command_reduce_command"] = bytes([0]) + job_created(
        7, spec('command { argv: "echo" reduce_command: "wc -c" } shards: 1')) + \
        shard_accepted(7, 0, b"hello\n")
    # Output directory and a wordcount over sandbox files.
    seeds["wordcount_output"] = bytes([0]) + job_created(
        8, spec('kernel: "wordcount" args { key: "files" value: "a.txt" } '
                'shards: 1 output_dir: "wc"')) + \
        shard_accepted(8, 0, b"alpha\t2\nbeta\t1\n")
    # A spec that no longer plans (the file is gone): the job fails.
    seeds["unplannable"] = bytes([0]) + job_created(
        9, spec('kernel: "grep" args { key: "pattern" value: "a" } '
                'args { key: "files" value: "gone.txt" } shards: 2'))
    # Corrupt rows.
    seeds["bad_spec_blob"] = bytes([0]) + job_created(10, b"\xff\xff\xff")
    seeds["bad_status_blob"] = bytes([0]) + job_created(
        11, spec('kernel: "sleep" args { key: "ms" value: "1" } shards: 1')) + \
        job_ended(11, b"\x0a")
    seeds["shard_out_of_range"] = bytes([0]) + job_created(
        12, spec('kernel: "sleep" args { key: "ms" value: "1" } shards: 2')) + \
        shard_accepted(12, 0xF5, b"1") + shard_accepted(12, 0, b"1")
    # Adaptive jobs (no shards: ranges cut as it runs): accepted ranges
    # come back from batch rows; only the gaps are cut again.
    adaptive = spec('kernel: "primes" args { key: "to" value: "1000" }')
    seeds["adaptive_partial"] = bytes([ADD_WORKER]) + job_created(20, adaptive) + \
        COMMIT + shards_accepted(20, [("ranged", 0, 0, 300, b"62")])
    seeds["adaptive_complete"] = bytes([0]) + job_created(21, adaptive) + COMMIT + \
        shards_accepted(21, [("ranged", 1, 500, 1000, b"73"), ("ranged", 0, 0, 500, b"95")])
    seeds["adaptive_overlap"] = bytes([ADD_WORKER]) + job_created(22, adaptive) + \
        shards_accepted(22, [("ranged", 0, 0, 500, b"95")]) + \
        shards_accepted(22, [("ranged", 1, 400, 600, b"1"), ("ranged", 2, 900, 2000, b"1")])
    seeds["batch_plain_and_torn"] = bytes([ADD_WORKER]) + job_created(
        23, spec('kernel: "sleep" args { key: "ms" value: "1" } shards: 3')) + \
        shards_accepted(23, [("plain", 0, b"1"), ("plain", 2, b"1")]) + COMMIT + \
        shards_accepted(23, [("plain", 1, b"1"), ("raw", b"\xff\xff\xff")])
    seeds["big_ids"] = bytes([ADD_WORKER]) + job_created(
        0xF0F0F0F0, spec('kernel: "sleep" args { key: "ms" value: "1" } shards: 2')) + \
        shard_accepted(0xF0F0F0F0, 1, b"1")

    # Raw databases with the journal's schema (journal.cc PrepareSchema).
    JOURNAL_SCHEMA = (
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID;"
        "INSERT INTO meta VALUES('schema_version', 1);"
        "CREATE TABLE jobs(id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, "
        "spec BLOB NOT NULL, submit_ms INTEGER NOT NULL, final BLOB);"
        "CREATE TABLE shards(job_id INTEGER, shard INTEGER, "
        "payload BLOB NOT NULL, PRIMARY KEY(job_id, shard));")

    def raw_db(rows_jobs, rows_shards, schema=JOURNAL_SCHEMA):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "state.db")
            db = sqlite3.connect(path)
            db.executescript(schema)
            db.executemany("INSERT INTO jobs VALUES(?,?,?,?,?)", rows_jobs)
            db.executemany("INSERT INTO shards VALUES(?,?,?)", rows_shards)
            db.commit()
            db.close()
            with open(path, "rb") as f:
                return f.read()

    seeds["raw_resume"] = bytes([RAW | ADD_WORKER]) + raw_db(
        [(1, "r1", spec('kernel: "primes" args { key: "to" value: "100" } shards: 3'),
          1700000000000, None),
         (2, "", spec('kernel: "sleep" args { key: "ms" value: "0" } shards: 1'),
          1700000000001, status('job_id: 2 state: JOB_CANCELLED'))],
        [(1, 0, b"10"), (1, 1, b"5")])
    seeds["raw_empty"] = bytes([RAW]) + raw_db([], [])
    # A foreign schema the journal's CREATE TABLE IF NOT EXISTS keeps: no
    # primary keys (one job id several times), untyped columns.
    loose = JOURNAL_SCHEMA.replace("id INTEGER PRIMARY KEY", "id").replace(
        ", PRIMARY KEY(job_id, shard)", "")
    sleep2 = spec('kernel: "sleep" args { key: "ms" value: "0" } shards: 2')
    seeds["raw_duplicate_ids"] = bytes([RAW | ADD_WORKER]) + raw_db(
        [(1, "a", sleep2, 5, None), (1, "b", sleep2, 6, None),
         (1, "a", sleep2, 7, status('job_id: 1 state: JOB_FAILED')),
         ("x", "", sleep2, "y", None), (-1, "", sleep2, 0, None)],
        [(1, 0, b"1"), (1, 0, b"2"), (1, 1, b"1"), (-1, 1, b"1")], schema=loose)
    seeds["raw_schema_version_2"] = bytes([RAW]) + raw_db(
        [], [], schema=JOURNAL_SCHEMA.replace("'schema_version', 1", "'schema_version', 2"))
    return seeds


def main():
    spec_dir = os.path.join(ROOT, "fuzz/corpus/spec_fuzzer")
    for name, text in SPECS.items():
        write(os.path.join(spec_dir, name + ".textproto"), (text + "\n").encode())
        write(os.path.join(spec_dir, name + ".bin"), protoc_encode("JobSpec", text))
    journal_dir = os.path.join(ROOT, "fuzz/corpus/journal_fuzzer")
    for name, data in journal_seeds().items():
        write(os.path.join(journal_dir, name), data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
