"""Ray tasks behind the slice of ``ProcessPoolExecutor`` the local executor uses.

``RayPool.submit(fn, *args)`` runs ``fn(*args)`` as a Ray task and hands back a
``concurrent.futures.Future``, so the local executor's chunk loop (bounded in-flight window,
stall timeout, manifest after every chunk, progress per chunk) drives a cluster unchanged. Every
task first makes sure its worker process holds the run's stages (``WorkerSetup``: plugins,
operator modules, the map stages' operators, the metrics cache), once per process and run.

A task whose worker dies (killed, out of memory, node lost) is run again by Ray, up to
``retries`` times: a task writes its files atomically and they depend only on its input, so a
retried chunk gives the same bytes. Past the retries the future fails the way a broken process
pool does, and the run stops resumable. An operator's ``SftforgeError`` comes back as itself
(one line in the CLI), not as Ray's wrapped traceback.

Test hook: ``WorkerSetup.kill_marker`` (``SFTFORGE_TEST_RAY_KILL_ONCE=<path>`` in the driver):
the first task to create that file SIGKILLs its own worker, once per run.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from ..errors import MissingDependency, SftforgeError
from .recipe import import_plugins
from .worker import StageOps, configure

__all__ = ["DEFAULT_RETRIES", "RayPool", "WorkerSetup", "connect", "ray_cpus", "task_error"]

DEFAULT_RETRIES = 3  # times Ray runs a task again after its worker died


@dataclass
class WorkerSetup:
    """What a Ray worker needs before it runs a run's tasks; ``key`` tells runs apart."""

    key: str
    plugins: list[str]
    modules: list[str]
    stages: list[StageOps]
    cache_dir: str | None
    kill_marker: str | None = None
    env: dict[str, str] = field(default_factory=dict)


_READY: str | None = None  # the ``WorkerSetup.key`` this worker process is configured for


def _ensure(setup: WorkerSetup) -> None:
    global _READY
    if setup.key == _READY:
        return
    os.environ.update(setup.env)
    import_plugins(setup.plugins)
    for mod in setup.modules:
        importlib.import_module(mod)
    configure(setup.stages, setup.cache_dir)
    _READY = setup.key


def _maybe_die(marker: str | None) -> None:
    """The test hook: the first task to create ``marker`` kills its worker (SIGKILL)."""
    if not marker:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, b"%d" % os.getpid())
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


def call(setup: WorkerSetup, fn: Callable[..., Any], *args: Any) -> Any:
    """What a Ray task runs: ``fn(*args)`` in a worker configured for the run."""
    _ensure(setup)
    _maybe_die(setup.kill_marker)
    return fn(*args)


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise MissingDependency("ray", "ray", "the Ray executor") from exc
    return ray


def connect(address: str | None, cpus: int | None = None) -> bool:
    """Join the Ray cluster at ``address`` (``auto``, ``ray://host:port``), or start a local one
    with ``cpus`` CPUs (default: all) when ``address`` is ``None``; returns whether this call
    started Ray (and so should stop it). A process already connected (``ray.init`` done by the
    caller) is left as it is."""
    ray = _ray()
    if ray.is_initialized():
        return False
    try:
        ray.init(
            address=address,
            num_cpus=cpus if address is None else None,
            # Ray runs task workers at nice 15: on a machine shared with other work they then
            # get almost no CPU (bench, 2026-12-07: 2 % each at load 15), while the local
            # executor's run at 0; only for a Ray started here, a cluster keeps its settings
            _system_config={"worker_niceness": 0} if address is None else None,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise SftforgeError(
            f"cannot connect to the Ray cluster at {address or 'a new local one'}: {exc}",
            hint="start the cluster (ray start --head) and pass --address auto or"
            " ray://HOST:10001, or leave --address out to start Ray on this machine",
        ) from None
    return True


def task_error(exc: BaseException) -> BaseException:
    """The error a driver understands for a failed Ray task (or Ray Data UDF): what the task
    raised, out of Ray's wrappers (an operator's ``SftforgeError`` as a plain one: a subclass
    with its own ``__init__`` may not unpickle), or ``BrokenProcessPool`` for a worker that died
    past its retries, as the local executor's pool gives."""
    ray = _ray()
    # a task's error is the cause of a ``RayTaskError``; Ray Data wraps a UDF's error in a
    # ``UserCodeException`` (raised as it is, or as a task error's cause), the error its cause
    while True:
        if isinstance(exc, ray.exceptions.RayTaskError) and isinstance(exc.cause, BaseException):
            exc = exc.cause
        elif isinstance(exc, ray.exceptions.UserCodeException) and exc.__cause__ is not None:
            exc = exc.__cause__
        else:
            break
    if isinstance(exc, ray.exceptions.RayError) and not isinstance(
        exc, ray.exceptions.RayTaskError | ray.exceptions.UserCodeException
    ):
        return BrokenProcessPool(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if isinstance(exc, SftforgeError):
        return SftforgeError(
            exc.message, file=exc.file, line=exc.line, column=exc.column,
            field=exc.field, sample_id=exc.sample_id, hint=exc.hint,
        )  # fmt: skip
    return exc


def ray_cpus() -> int:
    """The CPUs of the connected cluster: how many tasks run at once."""
    return max(1, int(_ray().cluster_resources().get("CPU", 1)))


class RayPool:
    """``submit``/``shutdown`` over Ray tasks, for the local executor's chunk loops."""

    def __init__(self, setup: WorkerSetup, retries: int = DEFAULT_RETRIES) -> None:
        ray = self._ray = _ray()
        self._setup = ray.put(setup)
        self._call = ray.remote(call)
        self._retries = retries
        self._remote = self._with_gpus(0)
        self._refs: set[Any] = set()

    def _with_gpus(self, gpus: float) -> Any:
        opts: dict[str, Any] = {"max_retries": self._retries, "retry_exceptions": False}
        if gpus:
            opts["num_gpus"] = gpus
        return self._call.options(**opts)

    def submit(self, fn: Callable[..., Any], *args: Any, gpus: float = 0) -> Future[Any]:
        """``fn(*args)`` as a task; ``gpus``: the GPUs it holds while it runs (Ray places it on
        a node with them free and sets ``CUDA_VISIBLE_DEVICES`` to those it gives)."""
        remote = self._remote if not gpus else self._with_gpus(gpus)
        ref = remote.remote(self._setup, fn, *args)
        self._refs.add(ref)
        out: Future[Any] = Future()

        def done(f: Future[Any]) -> None:
            self._refs.discard(ref)
            try:
                out.set_result(f.result())
            except BaseException as exc:
                out.set_exception(task_error(exc))

        ref.future().add_done_callback(done)
        return out

    def remote(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` as a task: its Ray object ref, which later tasks may take as an
        argument (Ray hands them the value) without it passing through the driver."""
        return self._remote.remote(self._setup, fn, *args)

    def get(self, refs: list[Any]) -> list[Any]:
        """The values of ``remote``'s refs, waited for; errors as ``submit``'s futures give."""
        try:
            return list(self._ray.get(refs))
        except BaseException as exc:
            raise task_error(exc) from None

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        if cancel_futures or not wait:
            for ref in list(self._refs):
                with contextlib.suppress(Exception):
                    self._ray.cancel(ref, force=True)
        self._refs.clear()
