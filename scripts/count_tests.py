#!/usr/bin/env python3
"""Counts gtest cases from Bazel's test.xml reports and prints
'N passed, N failed'. A test target that failed without a case failing in
its XML (a crash, a timeout, a missing report) counts as one failure.
Exit status 1 if anything failed or no test ran."""
import os
import sys
import xml.etree.ElementTree as ET


def main(root, extra_failures):
    passed, failed = 0, extra_failures
    for dirpath, _, files in os.walk(root, followlinks=True):
        if "test.xml" not in files:
            continue
        target = os.path.relpath(dirpath, root)
        try:
            tree = ET.parse(os.path.join(dirpath, "test.xml"))
        except ET.ParseError:
            print(f"{target}: unreadable test.xml", file=sys.stderr)
            failed += 1
            continue
        cases = list(tree.iter("testcase"))
        t_pass = t_fail = 0
        for case in cases:
            if case.find("failure") is not None or case.find("error") is not None:
                t_fail += 1
                print(f"FAILED {target}: {case.get('classname')}.{case.get('name')}")
            elif case.get("status", "run") == "run" and case.find("skipped") is None:
                t_pass += 1
        suite_fail = sum(int(s.get("failures", 0)) + int(s.get("errors", 0))
                         for s in tree.iter("testsuite"))
        if t_fail == 0 and suite_fail > 0:
            t_fail = 1  # crashed or timed out: Bazel's synthetic report
            print(f"FAILED {target}: the test binary did not finish")
        passed += t_pass
        failed += t_fail
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    extra = 0
    if "--extra-failures" in args:
        i = args.index("--extra-failures")
        extra = int(args[i + 1])
        del args[i:i + 2]
    sys.exit(main(args[0] if args else "bazel-testlogs", extra))
