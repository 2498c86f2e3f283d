#!/usr/bin/env python3
"""Counts gtest cases from Bazel's test.xml reports and prints
'N passed, N failed, N skipped'. A skipped case (GTEST_SKIP(), e.g. a
multi-host test on a machine that cannot make network namespaces, or a
DISABLED_ one) is counted as skipped, never as passed. A test target that failed without a case failing in
its XML (a crash, a timeout, a missing report) counts as one failure.
Exit status 1 if anything failed or no test ran.

One run (the testlogs of one `bazel test`):
    count_tests.py [bazel-testlogs] [--extra-failures N]

Several runs, e.g. the normal one and --config=asan, each with a label, its
testlogs directory and how many of its targets did not build:
    count_tests.py --run normal bazel-testlogs 0 --run asan DIR 0 \
        [--sanitizer-logs TMPDIR --newer FILE]
prints a line per run ("asan: N passed, N failed, N skipped") and, last,
the totals.

For sanitizer runs (label containing "asan", "tsan" or "san"), a report in
the test.log of a target that passed counts as a failure of that target:
it came from a child process (the test binary's own reports fail it).
--sanitizer-logs scans the files under TMPDIR changed after FILE (the test
temp dirs, where multi-process tests keep the coordinator's and workers'
logs) and counts each file holding a report as one failure of the last
sanitizer run.
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

SANITIZER_REPORT = re.compile(
    rb"ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)"
    rb"|WARNING: ThreadSanitizer|: runtime error: ")


def is_sanitizer_run(label):
    return "san" in label


def has_report(path):
    """Whether the file holds a sanitizer report (read in chunks)."""
    overlap = 64  # longer than any match, so none is cut in two
    try:
        with open(path, "rb") as f:
            tail = b""
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    return False
                if SANITIZER_REPORT.search(tail + chunk):
                    return True
                tail = chunk[-overlap:]
    except OSError:
        return False


def is_skipped(case):
    """gtest writes result="skipped" and a <skipped> element for
    GTEST_SKIP(), status="notrun" for a DISABLED_ test."""
    return (case.find("skipped") is not None
            or case.get("result") == "skipped"
            or case.get("status", "run") != "run")


def count_run(label, root, extra_failures, check_logs):
    """Returns (passed, failed, skipped) of one run's testlogs directory."""
    passed, failed, skipped = 0, extra_failures, 0
    prefix = f"{label} " if label else ""
    for dirpath, _, files in os.walk(root, followlinks=True):
        if "test.xml" not in files:
            continue
        target = os.path.relpath(dirpath, root)
        try:
            tree = ET.parse(os.path.join(dirpath, "test.xml"))
        except ET.ParseError:
            print(f"{prefix}{target}: unreadable test.xml", file=sys.stderr)
            failed += 1
            continue
        cases = list(tree.iter("testcase"))
        t_pass = t_fail = 0
        for case in cases:
            if case.find("failure") is not None or case.find("error") is not None:
                t_fail += 1
                print(f"FAILED {prefix}{target}: "
                      f"{case.get('classname')}.{case.get('name')}")
            elif is_skipped(case):
                skipped += 1
            else:
                t_pass += 1
        suite_fail = sum(int(s.get("failures", 0)) + int(s.get("errors", 0))
                         for s in tree.iter("testsuite"))
        if t_fail == 0 and suite_fail > 0:
            t_fail = 1  # crashed or timed out: Bazel's synthetic report
            print(f"FAILED {prefix}{target}: the test binary did not finish")
        if (t_fail == 0 and check_logs
                and has_report(os.path.join(dirpath, "test.log"))):
            t_fail = 1
            print(f"FAILED {prefix}{target}: sanitizer report in its test.log "
                  f"from a child process: {os.path.join(dirpath, 'test.log')}")
        passed += t_pass
        failed += t_fail
    return passed, failed, skipped


def scan_sanitizer_logs(root, newer_than):
    """Files under `root` changed after `newer_than` that hold a report."""
    since = os.path.getmtime(newer_than) if newer_than else 0
    found = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                if not os.path.isfile(path) or os.path.getmtime(path) < since:
                    continue
            except OSError:
                continue
            if has_report(path):
                found.append(path)
    return sorted(found)


def parse_args(args):
    runs, extra, logs, newer = [], 0, [], None
    positional = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--extra-failures":
            extra = int(args[i + 1])
            i += 2
        elif a == "--run":
            label, root, unbuilt = args[i + 1:i + 4]
            runs.append((label, root, int(unbuilt)))
            i += 4
        elif a == "--sanitizer-logs":
            logs.append(args[i + 1])
            i += 2
        elif a == "--newer":
            newer = args[i + 1]
            i += 2
        else:
            positional.append(a)
            i += 1
    if not runs:
        runs = [("", positional[0] if positional else "bazel-testlogs", extra)]
    return runs, logs, newer


def main(argv):
    runs, log_roots, newer = parse_args(argv)
    results = []
    for label, root, unbuilt in runs:
        passed, failed, skipped = count_run(
            label, root, unbuilt, check_logs=is_sanitizer_run(label))
        results.append([label, passed, failed, skipped])
    sanitizer_runs = [r for r in results if is_sanitizer_run(r[0])]
    for root in log_roots:
        for path in scan_sanitizer_logs(root, newer):
            print(f"FAILED: sanitizer report in {path}")
            if sanitizer_runs:
                sanitizer_runs[-1][2] += 1
            else:
                results[-1][2] += 1
    if len(results) > 1:
        for label, passed, failed, skipped in results:
            print(f"{label}: {passed} passed, {failed} failed, "
                  f"{skipped} skipped")
    total_passed = sum(r[1] for r in results)
    total_failed = sum(r[2] for r in results)
    total_skipped = sum(r[3] for r in results)
    print(f"{total_passed} passed, {total_failed} failed, "
          f"{total_skipped} skipped")
    if total_failed or any(r[1] == 0 for r in results):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
