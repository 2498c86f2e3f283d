#!/usr/bin/python3
"""Tests the Python client against a real cluster: one `shardex coordinator`
(--allow-commands, a free loopback port) and one `shardex worker`, started
from the //cli:shardex binary in the runfiles and stopped at the end.

Run by Bazel as an sh_test (BUILD says why). It runs under Debian's
/usr/bin/python3 because that is where python3-grpcio and python3-protobuf
are installed, and writes a gtest-style XML report to $XML_OUTPUT_FILE so
scripts/count_tests.py counts each case (skipped ones as skipped).
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # the runfiles tree is read-only
RUNFILES = os.path.join(os.environ.get("TEST_SRCDIR", ""),
                        os.environ.get("TEST_WORKSPACE", "shardex"))
sys.path.insert(0, os.path.join(RUNFILES, "clients/python"))

try:
    import grpc
    import shardex
    from shardex import pb
    IMPORT_ERROR = None
except ImportError as e:  # reported as a skip of every case, never a pass
    IMPORT_ERROR = (f"{e}: apt-get install python3-grpcio python3-protobuf "
                    "(Debian's, for /usr/bin/python3)")

SHARDEX = os.path.join(RUNFILES, "cli/shardex")
START_TIMEOUT_S = 30


def read_or_empty(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class Cluster:
    """A coordinator and a worker in a temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pyclient-",
                                    dir=os.environ.get("TEST_TMPDIR"))
        self.tmp = os.path.join(self.dir, "tmp")
        os.mkdir(self.tmp)
        self.state = os.path.join(self.dir, "state")
        self.token_file = os.path.join(self.state, "token")
        self.procs = []
        self.env = dict(os.environ, TMPDIR=self.tmp)
        try:
            self._start_all()
        except BaseException:
            self.stop()  # what did start
            raise

    def _start_all(self):
        port_file = os.path.join(self.dir, "port")
        self._start("coordinator", ["--listen=127.0.0.1:0",
                                    "--port-file=" + port_file,
                                    "--state-dir=" + self.state,
                                    "--allow-commands"])
        deadline = time.monotonic() + START_TIMEOUT_S
        while not read_or_empty(port_file):
            if self.procs[0].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("coordinator did not start:\n" +
                                   self.log("coordinator"))
            time.sleep(0.01)
        self.address = "127.0.0.1:" + read_or_empty(port_file).strip()
        self._start("worker", ["--coordinator=" + self.address,
                               "--token-file=" + self.token_file,
                               "--threads=2", "--processes=2",
                               "--name=pyclient-worker"])

    def _start(self, command, flags):
        with open(os.path.join(self.dir, command + ".log"), "wb") as log:
            # A session of its own: stop() signals the whole group.
            self.procs.append(subprocess.Popen(
                [SHARDEX, command] + flags, stdout=log, stderr=log,
                env=self.env, start_new_session=True))

    def log(self, command):
        """The end of the command's log ("" before it started)."""
        return read_or_empty(os.path.join(self.dir, command + ".log"))[-4000:]

    def stop(self):
        self.logs = {c: self.log(c) for c in ("coordinator", "worker")}
        for p in reversed(self.procs):  # the worker first
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)  # leftovers of the group
            except ProcessLookupError:
                pass
            p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


CLUSTER = None
# The variables the lookup reads; each test starts with them unset.
LOOKUP_VARS = ("SHARDEX_COORDINATOR", "SHARDEX_TOKEN_FILE", "SHARDEX_TLS_CA",
               "SHARDEX_TLS_CERT", "SHARDEX_TLS_KEY", "SHARDEX_SHARED_FS",
               "XDG_CONFIG_HOME", "XDG_DATA_HOME", "HOME")


def setUpModule():
    global CLUSTER
    if IMPORT_ERROR is None:
        CLUSTER = Cluster()
        try:
            wait_for_worker()
        except BaseException:  # unittest skips tearDownModule then
            CLUSTER.stop()
            raise


def wait_for_worker():
    """Cases count workers: waits until the worker has joined."""
    with shardex.Client(coordinator=CLUSTER.address,
                        token_file=CLUSTER.token_file) as c:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not c.workers():
            if time.monotonic() > deadline:
                raise RuntimeError("the worker did not join:\n" +
                                   CLUSTER.log("worker"))
            time.sleep(0.05)


def tearDownModule():
    if CLUSTER is not None:
        CLUSTER.stop()


class Base(unittest.TestCase):
    def setUp(self):
        if IMPORT_ERROR is not None:
            self.skipTest(IMPORT_ERROR)
        self.saved = {k: os.environ.pop(k, None) for k in LOOKUP_VARS}
        # No login config or state directory of the machine's user.
        self.home = tempfile.mkdtemp(dir=CLUSTER.dir)
        os.environ["HOME"] = self.home
        self.client = shardex.Client(coordinator=CLUSTER.address,
                                     token_file=CLUSTER.token_file)

    def tearDown(self):
        self.client.close()
        for k, v in self.saved.items():
            os.environ.pop(k, None)
            if v is not None:
                os.environ[k] = v

    def run_until(self, job, state):
        for s in self.client.watch(job):
            if s.state == state or s.state in shardex.TERMINAL_STATES:
                return s
        return None


class ResultTest(Base):
    def test_primes_result_is_an_int(self):
        job = self.client.submit("primes", {"to": "1e6"})
        r = self.client.result(job)
        self.assertEqual(r.value, 78498)
        self.assertIsInstance(r.value, int)
        self.assertEqual(r.text, "78498")
        self.assertEqual(r.details["to"], 1000000)

    def test_pi_result_is_a_float(self):
        job = self.client.submit("pi", {"samples": 200000, "seed": 7},
                                 shards=4)
        r = self.client.result(job)
        self.assertIsInstance(r.value, float)
        self.assertTrue(3.0 < r.value < 3.3, r.value)
        self.assertEqual(r.details["seed"], 7)

    def test_command_job_with_sum_reduce(self):
        job = self.client.submit(command=["echo", "{shard}"], shards=5,
                                 reduce="sum")
        r = self.client.result(job)
        self.assertEqual(r.value, 0 + 1 + 2 + 3 + 4)
        self.assertIsInstance(r.value, int)

    def test_watch_progress_increases_to_succeeded(self):
        # 8 shards of 300 ms on 2 slots: the job lasts 1.2 s or more, so the
        # watch (started right after the submit) sees it before the end.
        job = self.client.submit("sleep", {"ms": 300}, shards=8)
        statuses = list(self.client.watch(job))
        done = [s.shards_succeeded for s in statuses]
        self.assertEqual(statuses[-1].state, pb.JOB_SUCCEEDED)
        self.assertEqual(done, sorted(done), "progress went backwards")
        self.assertEqual(done[-1], 8)
        self.assertLess(done[0], 8, "the watch saw no progress")
        self.assertEqual(self.client.result(job).value, 8)

    def test_result_takes_the_watch_answer_without_get_job(self):
        # The watch's terminal status carries the result; a GetJob after it
        # would be a second round trip on every submit -> result.
        calls = []
        get_job = self.client._stub.GetJob
        self.client._stub.GetJob = lambda *a, **kw: (calls.append(a),
                                                     get_job(*a, **kw))[1]
        job = self.client.submit("primes", {"to": "1000"})
        self.assertEqual(self.client.result(job).value, 168)
        self.assertEqual(calls, [])
        self.assertEqual(self.client.wait(job).state, pb.JOB_SUCCEEDED)

    def test_failed_job_raises_aborted(self):
        job = self.client.submit(command=["false"], shards=1)
        with self.assertRaises(shardex.ShardexError) as e:
            self.client.result(job)
        self.assertEqual(e.exception.code, grpc.StatusCode.ABORTED)
        self.assertEqual(e.exception.status.state, pb.JOB_FAILED)
        # The whole record, as before: the spec is there.
        self.assertEqual(list(e.exception.status.spec.command.argv), ["false"])


class CancelAndListTest(Base):
    def test_cancel_long_job(self):
        job = self.client.submit("sleep", {"ms": 600000}, shards=4)
        s = self.run_until(job, pb.JOB_RUNNING)
        self.assertEqual(s.state, pb.JOB_RUNNING)
        self.client.cancel(job)
        self.assertEqual(self.client.wait(job).state, pb.JOB_CANCELLED)
        with self.assertRaises(shardex.ShardexError) as e:
            self.client.result(job)
        self.assertEqual(e.exception.code, grpc.StatusCode.CANCELLED)

    def test_jobs_and_workers_are_listed(self):
        job = self.client.submit("primes", {"to": "1000"})
        self.client.wait(job)
        jobs = {j.job_id: j for j in self.client.jobs()}
        self.assertIn(job, jobs)
        self.assertEqual(jobs[job].state, pb.JOB_SUCCEEDED)
        self.assertEqual(jobs[job].summary, "primes --to 1000")
        workers = self.client.workers()
        self.assertEqual([w.host for w in workers], ["pyclient-worker"])
        self.assertEqual(workers[0].slots, 2)

    def test_unknown_job_raises_not_found(self):
        with self.assertRaises(shardex.ShardexError) as e:
            self.client.status(999999)
        self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)

    def test_attempts_show_a_failed_attempt_and_its_retry(self):
        script = ('if [ "$SHARDEX_ATTEMPT" = 1 ]; then echo broke >&2; '
                  'exit 4; fi; echo {shard}')
        job = self.client.submit(command=["sh", "-c", script], shards=1,
                                 reduce="sum")
        self.assertEqual(self.client.result(job).value, 0)
        log = self.client.attempts(job)
        self.assertEqual([(a.shard, a.attempt) for a in log], [(0, 1), (0, 2)])
        self.assertEqual(log[0].outcome, pb.ATTEMPT_FAILED)
        self.assertEqual(log[0].exit_code, 4)
        self.assertIn("broke", log[0].error)
        self.assertEqual(log[1].outcome, pb.ATTEMPT_SUCCEEDED)
        self.assertEqual(log[1].host, "pyclient-worker")
        with self.assertRaises(shardex.ShardexError) as e:
            self.client.attempts(999999)
        self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)


class AccessTest(Base):
    def write_token(self, text, mode=0o600):
        path = os.path.join(self.home, "token")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def test_bad_token_raises_unauthenticated(self):
        bad = self.write_token("0123456789abcdef" * 2 + "\n")
        with shardex.Client(coordinator=CLUSTER.address, token_file=bad) as c:
            with self.assertRaises(shardex.ShardexError) as e:
                c.jobs()
        self.assertEqual(e.exception.code, grpc.StatusCode.UNAUTHENTICATED)
        self.assertTrue(e.exception.message)

    def test_token_readable_by_others_is_refused(self):
        loose = self.write_token("0123456789abcdef" * 2, mode=0o644)
        with self.assertRaises(shardex.ShardexError) as e:
            shardex.Client(coordinator=CLUSTER.address, token_file=loose)
        self.assertEqual(e.exception.code,
                         grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn("chmod 600", e.exception.message)

    def test_environment_names_coordinator_and_token(self):
        os.environ["SHARDEX_COORDINATOR"] = CLUSTER.address
        os.environ["SHARDEX_TOKEN_FILE"] = CLUSTER.token_file
        with shardex.Client() as c:
            self.assertEqual(c.settings.coordinator, CLUSTER.address)
            self.assertEqual(c.settings.token_file, CLUSTER.token_file)
            self.assertEqual(len(c.workers()), 1)

    def test_default_state_dir_token_is_found(self):
        os.environ["XDG_DATA_HOME"] = os.path.join(self.home, "data")
        state = os.path.join(self.home, "data/shardex/coordinator")
        os.makedirs(state)
        shutil.copy(CLUSTER.token_file, state + "/token")
        with shardex.Client(coordinator=CLUSTER.address) as c:
            self.assertEqual(c.settings.token_file, state + "/token")
            self.assertEqual(len(c.workers()), 1)

    def test_lookup_order_flags_env_login_default(self):
        login = os.path.join(self.home, ".config/shardex")
        os.makedirs(login)
        with open(login + "/config", "w") as f:
            f.write("# written by shardex login\ncoordinator = login:1\n"
                    "tls_ca = /l/ca.pem\ntls_cert = /l/cert.pem\n"
                    "tls_key = /l/key.pem\n")
        r = shardex.resolve()
        self.assertEqual((r.coordinator, r.tls.ca, r.tls.cert),
                         ("login:1", "/l/ca.pem", "/l/cert.pem"))
        os.environ["SHARDEX_COORDINATOR"] = "env:2"
        r = shardex.resolve()  # the login's certificates are for login:1
        self.assertEqual((r.coordinator, r.tls.any()), ("env:2", False))
        os.environ["SHARDEX_TLS_CA"] = "/e/ca.pem"
        self.assertEqual(shardex.resolve().tls.ca, "/e/ca.pem")
        r = shardex.resolve(coordinator="flag:3", tls_ca="/f/ca.pem")
        self.assertEqual((r.coordinator, r.tls.ca), ("flag:3", "/f/ca.pem"))
        for k in ("SHARDEX_COORDINATOR", "SHARDEX_TLS_CA"):
            del os.environ[k]
        os.remove(login + "/config")
        r = shardex.resolve()
        self.assertEqual((r.coordinator, r.tls.any(), r.token_file),
                         ("127.0.0.1:7473", False, ""))


class XmlResult(unittest.TextTestResult):
    """Also records each case for a gtest-style XML report."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cases = []  # (test, seconds, kind, text)

    def startTest(self, test):
        self._start = time.monotonic()
        super().startTest(test)

    def _record(self, test, kind, text=""):
        self.cases.append((test, time.monotonic() - self._start, kind, text))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "ok")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "failure", self.failures[-1][1])

    def addError(self, test, err):
        super().addError(test, err)
        if isinstance(test, unittest.TestCase):  # else: written as a module
            self._record(test, "failure", self.errors[-1][1])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)


def write_xml(result, path):
    suites = {}
    for test, seconds, kind, text in result.cases:
        suites.setdefault(type(test).__name__, []).append(
            (test, seconds, kind, text))
    fails = sum(1 for c in result.cases if c[2] == "failure")
    # An error outside any case (setUpModule) has no case: report it as one.
    outside = [e for e in result.errors
               if not isinstance(e[0], unittest.TestCase)]
    root = ET.Element("testsuites", name="AllTests",
                      tests=str(len(result.cases) + len(outside)),
                      failures=str(fails + len(outside)), errors="0")
    if outside:
        suites["Module"] = [(None, 0.0, "failure", e[1]) for e in outside]
    for name, cases in suites.items():
        suite = ET.SubElement(
            root, "testsuite", name=name, tests=str(len(cases)),
            failures=str(sum(1 for c in cases if c[2] == "failure")),
            errors="0")
        for test, seconds, kind, text in cases:
            case = ET.SubElement(
                suite, "testcase", classname=name,
                name=test._testMethodName if test else "setUpModule",
                status="run", result="completed", time=f"{seconds:.3f}")
            if kind == "failure":
                ET.SubElement(case, "failure", message=text.splitlines()[-1]
                              if text else "").text = text
            elif kind == "skipped":
                case.set("result", "skipped")
                ET.SubElement(case, "skipped", message=text)
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(
        sys.modules[__name__])
    runner = unittest.TextTestRunner(resultclass=XmlResult, verbosity=2)
    result = runner.run(suite)
    if os.environ.get("XML_OUTPUT_FILE"):
        write_xml(result, os.environ["XML_OUTPUT_FILE"])
    if CLUSTER is not None and hasattr(CLUSTER, "logs") and \
            not result.wasSuccessful():
        for command, log in CLUSTER.logs.items():
            print(f"--- {command}.log\n{log}")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
