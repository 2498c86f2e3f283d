"""A thin Python wrapper of the Coordinator service (proto/shardex.proto).

Statuses are the generated `JobStatus` and `WorkerInfo` messages
(shardex.pb); only results are converted, to Python types (see Result).
"""
import contextlib
import os
import re
import secrets
from typing import Dict, Iterator, List, Mapping, NamedTuple, Optional, Union

import grpc

from . import config
from ._proto import shardex_pb2 as pb
from ._proto import shardex_pb2_grpc as pb_grpc

TERMINAL_STATES = (pb.JOB_SUCCEEDED, pb.JOB_FAILED, pb.JOB_CANCELLED)
# Same as the CLI (client/client.h, common/channel.h).
DEFAULT_TIMEOUT_S = 10.0
_MAX_MESSAGE_BYTES = 64 << 20

_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?")


class ShardexError(Exception):
    """Every failure of this package.

    `code` is the grpc.StatusCode: the server's for a failed call,
    FAILED_PRECONDITION for an unusable token or config file, ABORTED for
    the result of a job that failed and CANCELLED for one that was
    cancelled (then `status` holds its JobStatus). `message` is the
    server's (or this package's) explanation.
    """

    def __init__(self, code: grpc.StatusCode, message: str,
                 status: Optional[pb.JobStatus] = None):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.status = status


def typed(text: str) -> Union[int, float, str]:
    """A result text as a Python value: an int if it is a decimal integer,
    a float if it is a decimal number, else the text itself (surrounding
    whitespace is ignored for the numbers)."""
    stripped = text.strip()
    if _INT.fullmatch(stripped):
        return int(stripped)
    if _FLOAT.fullmatch(stripped):
        return float(stripped)
    return text


class Result(NamedTuple):
    """A succeeded job's answer."""
    value: Union[int, float, str]   # typed(text)
    details: Dict[str, Union[int, float, str]]  # each typed() too
    text: str                       # the answer exactly as the CLI prints it


def _rpc(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except grpc.RpcError as e:
        raise ShardexError(e.code(), e.details() or "") from None


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ShardexError(grpc.StatusCode.FAILED_PRECONDITION,
                           f"{path}: {e.strerror}") from None


class Client:
    """A connection to a shardex coordinator.

    Arguments play the CLI's --coordinator, --token-file, --tls-ca,
    --tls-cert and --tls-key; what is not given is looked up like the CLI
    does (shardex.config has the order). `timeout` is the deadline of each
    call except watch(). Use as a context manager or call close().
    """

    def __init__(self, coordinator: Optional[str] = None,
                 token_file: Optional[str] = None,
                 tls_ca: Optional[str] = None,
                 tls_cert: Optional[str] = None,
                 tls_key: Optional[str] = None,
                 timeout: float = DEFAULT_TIMEOUT_S):
        try:
            self.settings = config.resolve(coordinator, token_file, tls_ca,
                                           tls_cert, tls_key)
            token = (config.read_token_file(self.settings.token_file)
                     if self.settings.token_file else "")
        except config.ConfigError as e:
            raise ShardexError(grpc.StatusCode.FAILED_PRECONDITION,
                               str(e)) from None
        self._metadata = ((("authorization", "Bearer " + token),)
                          if token else ())
        self._timeout = timeout
        options = [("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
                   ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES)]
        tls = self.settings.tls
        if tls.any():
            creds = grpc.ssl_channel_credentials(
                root_certificates=_read(tls.ca) if tls.ca else None,
                private_key=_read(tls.key) if tls.key else None,
                certificate_chain=_read(tls.cert) if tls.cert else None)
            self._channel = grpc.secure_channel(self.settings.coordinator,
                                                creds, options)
        else:
            self._channel = grpc.insecure_channel(self.settings.coordinator,
                                                  options)
        self._stub = pb_grpc.CoordinatorStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request):
        return _rpc(method, request, timeout=self._timeout,
                    metadata=self._metadata)

    def submit(self, kernel: Optional[str] = None,
               args: Optional[Mapping[str, object]] = None, *,
               command: Union[None, List[str], pb.CommandSpec] = None,
               shell: bool = False, reduce: str = "", shards: int = 0,
               shared_fs: Optional[bool] = None, output_dir: str = "",
               spec: Optional[pb.JobSpec] = None) -> int:
        """Submits a job and returns its id.

        A kernel job: submit("primes", {"to": "1e6"}); `args` are the
        kernel's flags without dashes (docs/kernels.md), values as the CLI
        takes them (str() is applied; True becomes "true"). A command job:
        submit(command=["sh", "-c", "echo {shard}"], shards=4,
        reduce="sum"); a CommandSpec message gives every option. `spec`
        submits a ready JobSpec instead. Files are not uploaded: a job that
        names files needs shared_fs (the default is $SHARDEX_SHARED_FS=1,
        like the CLI) and a coordinator started with --shared-fs.
        """
        if spec is None:
            if (kernel is None) == (command is None):
                raise ShardexError(grpc.StatusCode.INVALID_ARGUMENT,
                                   "give either a kernel or a command")
            spec = pb.JobSpec(shards=shards, output_dir=output_dir)
            if shared_fs is None:
                shared_fs = os.environ.get("SHARDEX_SHARED_FS") == "1"
            spec.shared_fs = shared_fs
            if kernel is not None:
                spec.kernel = kernel
                for name, value in (args or {}).items():
                    if isinstance(value, bool):
                        value = "true" if value else "false"
                    spec.args[name] = str(value)
            elif isinstance(command, pb.CommandSpec):
                spec.command.CopyFrom(command)
            else:
                spec.command.argv.extend(command)
                spec.command.shell = shell
                spec.command.reduce = reduce
        request = pb.SubmitJobRequest(spec=spec,
                                      request_id=secrets.token_hex(16))
        return self._call(self._stub.SubmitJob, request).job_id

    def status(self, job: int) -> pb.JobStatus:
        """The job's current JobStatus."""
        return self._call(self._stub.GetJob, pb.GetJobRequest(job_id=job))

    def watch(self, job: int) -> Iterator[pb.JobStatus]:
        """Yields the job's JobStatus now and on progress, the last one
        terminal (JOB_SUCCEEDED, JOB_FAILED or JOB_CANCELLED)."""
        stream = _rpc(self._stub.WatchJob, pb.WatchJobRequest(job_id=job),
                      metadata=self._metadata)
        try:
            for status in stream:
                yield status
        except grpc.RpcError as e:
            raise ShardexError(e.code(), e.details() or "") from None
        finally:
            stream.cancel()

    def wait(self, job: int) -> pb.JobStatus:
        """Blocks until the job ends; returns its terminal JobStatus, the
        watch's last message (without the spec: status() has it)."""
        with contextlib.closing(self.watch(job)) as statuses:
            for status in statuses:
                if status.state in TERMINAL_STATES:
                    return status  # closing cancels the stream
        raise ShardexError(grpc.StatusCode.UNAVAILABLE,
                           f"the watch of job {job} ended early")

    def result(self, job: int, wait: bool = True) -> Result:
        """The job's Result, waiting for it to end unless `wait` is False.

        Raises ShardexError: ABORTED if the job failed (message: why),
        CANCELLED if it was cancelled, FAILED_PRECONDITION if it has not
        ended and `wait` is False. The error's `status` is the whole
        record (status()).
        """
        # The terminal status of the watch has the result: no second call
        # on the way to an answer (a tenth of a tiny job's latency,
        # bench/latency.sh).
        status = self.wait(job) if wait else self.status(job)
        if status.state != pb.JOB_SUCCEEDED:
            if wait:
                status = self.status(job)  # spec included, for the error
            state = pb.JobState.Name(status.state)
            if status.state == pb.JOB_FAILED:
                raise ShardexError(grpc.StatusCode.ABORTED,
                                   f"job {job} failed: {status.error}", status)
            if status.state == pb.JOB_CANCELLED:
                raise ShardexError(grpc.StatusCode.CANCELLED,
                                   f"job {job} was cancelled", status)
            raise ShardexError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"job {job} is {state}, not ended", status)
        text = status.result.value
        details = {k: typed(v) for k, v in status.result.details.items()}
        return Result(typed(text), details, text)

    def cancel(self, job: int) -> pb.JobStatus:
        """Cancels the job; returns its JobStatus after the request."""
        return self._call(self._stub.CancelJob,
                          pb.CancelJobRequest(job_id=job)).status

    def jobs(self) -> List[pb.JobStatus]:
        """The coordinator's jobs, newest first (large results left out)."""
        return list(self._call(self._stub.ListJobs, pb.ListJobsRequest()).jobs)

    def attempts(self, job: int) -> List[pb.AttemptRecord]:
        """The job's shard log: one AttemptRecord per attempt of a shard,
        in the order they started (paged through ListAttempts)."""
        records: List[pb.AttemptRecord] = []
        request = pb.ListAttemptsRequest(job_id=job)
        while True:
            page = self._call(self._stub.ListAttempts, request)
            records.extend(page.attempts)
            if not page.more or page.next <= request.start:
                return records
            request.start = page.next

    def workers(self) -> List[pb.WorkerInfo]:
        """The connected workers."""
        return list(self._call(self._stub.ListWorkers,
                               pb.ListWorkersRequest()).workers)
