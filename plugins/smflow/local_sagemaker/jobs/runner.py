"""The detached process that runs one local job: `python -m smflow.local_sagemaker.jobs.runner <jobdir> <store>`.

The executor's Create call starts this in a new session and returns at once; from then on the job
directory is the only channel between them. The runner stages inputs into the job's private `/opt/ml`, runs
the container command in the sandbox, uploads outputs, and writes the terminal status. A StopXJob call
marks the job Stopping and sends the runner SIGTERM; the runner then stops the container (SIGTERM to its
process group, SIGKILL after the grace period) and records Stopped.

Imports stay light (no Airflow, pandas or botocore) so a job starts in well under a second; the per-kind
modules are imported only for the kind being run.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any

from smflow.local_sagemaker.jobs import sandbox as sandboxes
from smflow.local_sagemaker.jobs.records import MAX_FAILURE_REASON, JobDir, JobFailure, JobStopped, now_iso
from smflow.local_sagemaker.store import InvalidUriError, LocalStore, ObjectNotFoundError
from smflow.sagemaker_api import JOB_KINDS_BY_DIRECTORY


class JobRun:
    """Everything a kind module needs to run one job: request, store, sandbox, log, stop and time limits."""

    def __init__(self, job: JobDir, store: LocalStore, *, readonly: Sequence[Path] = ()):
        self.job = job
        self.store = store
        self.request: dict[str, Any] = job.request()
        self.started = time.monotonic()
        self.stop_signal: str | None = None
        job.opt_ml.mkdir(exist_ok=True)
        self.sandbox = sandboxes.Sandbox(sandboxes.choose_mode(), job.opt_ml, tuple(readonly))
        # The Python that runs the job's code (user scripts, and smflow's own container programs such as the
        # transform server): the image's environment once one is chosen, else the interpreter running us.
        self.interpreter: str = sys.executable

    # ---- logging and stopping -------------------------------------------------------------------

    def say(self, line: str) -> None:
        self.job.log_line(line)

    def on_sigterm(self, _signum: int, _frame: FrameType | None) -> None:
        status = self.job.description().get(self.job.status_key)
        self.stop_signal = (self.user_stop_reason() if status == "Stopping"
                            else "the local job runner received SIGTERM")

    def user_stop_reason(self) -> str:
        return f"stopped by a {JOB_KINDS_BY_DIRECTORY[self.job.kind].stop} request"

    def check_stopped(self) -> None:
        """Raise JobStopped at a safe point if a stop arrived or the time limit passed."""
        if self.stop_signal is not None:
            raise JobStopped(self.stop_signal)
        deadline = self.deadline()
        if deadline is not None and time.monotonic() >= deadline:
            raise JobStopped(self.deadline_reason(), "MaxRuntimeExceeded")

    def max_runtime(self) -> int | None:
        value = (self.request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
        return int(value) if value else None

    def deadline(self) -> float | None:
        limit = self.max_runtime()
        return None if limit is None else self.started + limit

    def deadline_reason(self) -> str:
        return (f"MaxRuntimeInSeconds exceeded: the job ran longer than StoppingCondition.MaxRuntimeInSeconds "
                f"= {self.max_runtime()} s and was stopped; raise the limit or make the job faster")

    # ---- inputs ---------------------------------------------------------------------------------

    def stage(self, uri: str, data_type: str, dest: Path, *, fast: bool, where: str) -> int:
        """Put the objects an S3 data source names under `dest`: copies (File) or read-on-demand links (FastFile).

        S3Prefix is a folder prefix (as LocalStore.download); ManifestFile is a JSON list whose first item
        is `{"prefix": "s3://..."}` and whose other items are keys relative to it.
        """
        self.check_stopped()
        dest.mkdir(parents=True, exist_ok=True)
        try:
            if data_type == "S3Prefix":
                pairs = self._prefix_objects(uri)
            elif data_type == "ManifestFile":
                pairs = self._manifest_objects(uri, where)
            else:
                raise JobFailure(f"ClientError: {where}: S3DataType {data_type!r} is not supported by the local "
                                 "executor; use S3Prefix or ManifestFile")
        except InvalidUriError as e:
            raise JobFailure(f"ClientError: {where}: {e}") from e
        if not pairs:
            raise JobFailure(f"ClientError: {where}: no S3 objects found under S3 URL {uri!r} in the local store "
                             f"({self.store.root}); upload the data first or fix the URI")
        for source_uri, relative in pairs:
            self.check_stopped()
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            source = self.store.path_for(source_uri)
            if not source.is_file():
                raise JobFailure(f"ClientError: {where}: {source_uri} (listed in {uri}) does not exist in the "
                                 "local store")
            if fast:
                target.unlink(missing_ok=True)
                target.symlink_to(source)
            else:
                self.store.download(source_uri, target.parent)
                if target.parent / source.name != target:
                    (target.parent / source.name).rename(target)
        return len(pairs)

    def _prefix_objects(self, uri: str) -> list[tuple[str, str]]:
        """S3Prefix as SageMaker reads it: every key that starts with the prefix *string* (so `s3://b/test`
        also matches `test_labels/…`; write `s3://b/test/` for a folder), staged at the key minus the prefix."""
        pairs = []
        for object_uri in self.store.list(uri):
            relative = object_uri[len(uri):].lstrip("/") or object_uri.rsplit("/", 1)[-1]
            pairs.append((object_uri, relative))
        return pairs

    def _manifest_objects(self, uri: str, where: str) -> list[tuple[str, str]]:
        from smflow.local_sagemaker.containers.staging import ManifestError, parse_manifest

        try:
            base, keys = parse_manifest(self.store.read_bytes(uri))
        except ObjectNotFoundError as e:
            raise JobFailure(f"ClientError: {where}: manifest file {uri} not found in the local store") from e
        except ManifestError as e:
            detail = f"is not JSON: {e.detail}" if e.kind == "json" else e.detail
            raise JobFailure(f"ClientError: {where}: manifest file {uri} {detail}") from e
        return [(base + key, key) for key in keys]

    # ---- the container --------------------------------------------------------------------------

    def base_environment(self) -> dict[str, str]:
        """The host environment with the job's interpreter first on PATH, so `python3` / `python` in an
        entrypoint is the image's environment (or smflow's venv when the job runs there). In an image
        environment the host's PYTHONPATH and VIRTUAL_ENV are dropped: a container does not inherit the
        host's, and smflow's venv on the path would shadow the image's packages."""
        env = dict(os.environ)
        bin_dir = str(Path(self.interpreter).parent)  # not resolved: the venv's bin, not its base Python's
        env["PATH"] = os.pathsep.join([bin_dir, *[p for p in env.get("PATH", "").split(os.pathsep) if p]])
        env["PYTHONUNBUFFERED"] = "1"  # as the SageMaker framework images set it: logs arrive as written
        env.pop("PYTHONHOME", None)
        if self.interpreter != sys.executable:
            from smflow.local_sagemaker.images.compat import COMPAT_PATH

            env.pop("VIRTUAL_ENV", None)
            # after the environment's site-packages: modules the images ship that do not install here
            env["PYTHONPATH"] = str(COMPAT_PATH)
        return env

    def internal_environment(self, env: Mapping[str, str]) -> dict[str, str]:
        """`env` for one of smflow's own container programs (`python -m smflow.local_sagemaker...`) run by
        `self.interpreter`: smflow's package root on PYTHONPATH, so it imports in an image environment too."""
        root = str(Path(__file__).resolve().parents[3])
        out = dict(env)
        out["PYTHONPATH"] = os.pathsep.join(p for p in (root, out.get("PYTHONPATH", "")) if p)
        return out

    def run_container(self, command: Sequence[str], env: Mapping[str, str], cwd: str, *,
                      metrics: Sequence[sandboxes.MetricDefinition] = ()) -> sandboxes.ContainerResult:
        self.check_stopped()
        self.say(f"running: {' '.join(command)} (cwd {cwd})")
        with self.job.log_file.open("a", encoding="utf-8") as log:
            return self._run(command, env, cwd, log, metrics)

    def _run(self, command: Sequence[str], env: Mapping[str, str], cwd: str, log: IO[str],
             metrics: Sequence[sandboxes.MetricDefinition]) -> sandboxes.ContainerResult:
        try:
            result = sandboxes.run_container(
                self.sandbox, command, env=env, cwd=cwd, log=log, metrics=metrics, deadline=self.deadline(),
                deadline_reason=self.deadline_reason(), stop_reason=lambda: self.stop_signal,
                on_start=lambda pid: self.job.write_pid(self.job.container_pid_file, pid))
        except sandboxes.SandboxError as e:
            raise JobFailure(f"ClientError: {e}") from e
        self.say(f"container ended: {result.describe_exit()}" + (f" ({result.stopped})" if result.stopped else ""))
        return result

    def stopped_error(self, result: sandboxes.ContainerResult) -> JobStopped:
        assert result.stopped is not None
        timed_out = result.stopped == self.deadline_reason()
        return JobStopped(result.stopped, "MaxRuntimeExceeded" if timed_out else "Stopped")


def resource_config(instance_type: str) -> dict[str, Any]:
    """resourceconfig.json of a one-instance cluster, as SageMaker writes it for host `algo-1`."""
    return {
        "current_host": "algo-1",
        "hosts": ["algo-1"],
        "network_interface_name": "eth0",
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": instance_type,
                             "hosts": ["algo-1"]}],
    }


def write_config(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1, default=str))


def failure_tail(result: sandboxes.ContainerResult, command: Sequence[str]) -> str:
    """`AlgorithmError: ...` with the exit code and the last stderr lines, the way SageMaker reports it."""
    head = f"AlgorithmError: {' '.join(command)[:300]} ended with {result.describe_exit()}"
    tail = "\n".join(result.stderr_tail[-10:]).strip()
    if not tail:
        return head + "; it wrote nothing to stderr (see the job log)"
    head += "; last stderr lines:\n"
    budget = MAX_FAILURE_REASON - len(head)
    return head + (tail if len(tail) <= budget else "..." + tail[-(budget - 3):])  # the end names the error


# ---- the process -----------------------------------------------------------------------------------


def _kind_runner(kind: str) -> Callable[[JobRun], dict[str, Any]]:
    if kind == "processing":
        from smflow.local_sagemaker.containers.processing import run_processing_job

        return run_processing_job
    if kind == "training":
        from smflow.local_sagemaker.containers.training import run_training_job

        return run_training_job
    if kind == "transform":
        return _run_transform
    raise JobFailure(f"InternalServerError: unknown local job kind {kind!r}")


def _run_transform(run: JobRun) -> dict[str, Any]:
    """The transform runs in the job's sandbox (model at /opt/ml/model), like the other job kinds."""
    from smflow.local_sagemaker.containers.transform_container import FAILURE_FILE

    opt_ml = run.sandbox.visible_path("/opt/ml")
    command = [run.interpreter, "-m", "smflow.local_sagemaker.containers.transform_container", str(run.job.path),
               str(run.store.root), opt_ml]
    result = run.run_container(command, run.internal_environment(run.base_environment()), opt_ml)
    if result.stopped:
        raise run.stopped_error(result)
    if result.exit_code != 0:
        failure = run.sandbox.host_path(f"/opt/ml/{FAILURE_FILE}")
        raise JobFailure(failure.read_text()[:MAX_FAILURE_REASON] if failure.is_file()
                         else failure_tail(result, command))
    return {}


def _readonly_paths(job: JobDir, store: LocalStore) -> list[Path]:
    """FastFile channels read the store in place; mount it read-only so a job cannot change its inputs."""
    if job.kind != "training":
        return []
    request = job.request()
    default = (request.get("AlgorithmSpecification") or {}).get("TrainingInputMode", "File")
    fast = any(c.get("InputMode", default) == "FastFile" for c in request.get("InputDataConfig") or [])
    return [store.root] if fast and store.root.is_dir() else []


def finish(run: JobRun, status: str, reason: str | None, fields: Mapping[str, Any],
           secondary: str | None = None) -> None:
    extra = dict(fields)
    if run.job.kind == "training":
        from smflow.local_sagemaker.containers.training import closing_fields

        extra.update(closing_fields(run, secondary or status))
    run.job.finish(status, reason, **extra)
    run.say(f"job {status}" + (f": {reason}" if reason else ""))


def execute(job: JobDir, store: LocalStore) -> None:
    """Run the job in this process to its terminal status; never raises for job-level failures."""
    try:
        run = JobRun(job, store, readonly=_readonly_paths(job, store))
    except Exception as e:  # noqa: BLE001 - e.g. a bad $SMFLOW_SANDBOX: the job must still end, saying why
        job.log_line("local runner could not start the job:\n" + traceback.format_exc())
        job.finish("Failed", f"ClientError: the local job runner could not start the job: {e}")
        return
    signal.signal(signal.SIGTERM, run.on_sigterm)
    if job.description().get(job.status_key) == "Stopping":  # stopped before we got going
        run.stop_signal = run.user_stop_reason()
    job.set_fields(**{JOB_KINDS_BY_DIRECTORY[job.kind].start_time_key: now_iso()})
    run.say(run.sandbox.notice())
    fields: dict[str, Any] = {}
    try:
        from smflow.local_sagemaker.images.job import use_image_environment

        use_image_environment(run)  # sets run.interpreter; may build the environment (not counted as run time)
        fields = _kind_runner(job.kind)(run)
    except JobStopped as e:
        # SageMaker gives no FailureReason for a requested stop; a time limit or stray SIGTERM does get one.
        requested = e.reason == run.user_stop_reason()
        if requested:
            run.say(e.reason)
        finish(run, "Stopped", None if requested else e.reason, {}, e.secondary_status)
    except JobFailure as e:
        finish(run, "Failed", e.reason, e.fields)
    except (InvalidUriError, sandboxes.SandboxError) as e:  # a URI or path that would leave the store or /opt/ml
        finish(run, "Failed", f"ClientError: {e}", {})
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            run.say("local runner crashed:\n" + traceback.format_exc())
            finish(run, "Failed", f"InternalServerError: local job runner crashed: {type(e).__name__}: {e}", {})
        else:  # writes are atomic: the store holds no half object, so freeing space and retrying is enough
            finish(run, "Failed", f"InternalServerError: no space left on device writing {e.filename or 'a file'}; "
                                  "free disk space and run the job again", {})
    except Exception as e:  # noqa: BLE001 - a bug here must still end the job, with the traceback in its log
        run.say("local runner crashed:\n" + traceback.format_exc())
        finish(run, "Failed", f"InternalServerError: local job runner crashed: {type(e).__name__}: {e}", {})
    else:
        finish(run, "Completed", None, fields)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m smflow.local_sagemaker.jobs.runner <jobdir> <store root>", file=sys.stderr)
        return 2
    job = JobDir(Path(args[0]))
    job.write_pid(job.runner_pid_file, os.getpid())  # the executor writes it too; same content
    execute(job, LocalStore(Path(args[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
