"""Start ImageJ in this Python process: Fiji through PyImageJ when a local Fiji.app is given, else the local
ImageJ 1.x + Jython jars through scyjava with the system Java. Nothing is downloaded."""

from __future__ import annotations

import atexit
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import EnvironmentProblem
from . import contract, install, jvm_signals, locate


@dataclass
class Session:
    kind: str  # "fiji" or "imagej1"
    home: Path
    plugin: Path


_SESSION: Session | None = None


def session(fiji: str | Path | None = None, python: str | None = None) -> Session:
    """The running ImageJ of this process, started on first use (one JVM per process)."""
    global _SESSION
    if _SESSION is not None:
        return _SESSION
    fiji = Path(fiji) if fiji else locate.fiji_app()
    _SESSION = _start_fiji(fiji, python) if fiji else _start_imagej1(python)
    atexit.register(_shutdown, jvm_signals.save())
    return _SESSION


def _start_imagej1(python: str | None) -> Session:
    import scyjava

    ij_jar = locate.imagej_jar()
    if ij_jar is None or locate.java_home() is None:
        raise EnvironmentProblem("ImageJ 1.x or Java not found: apt-get install imagej jython default-jdk-headless "
                                 "(or set FIJI_HOME to a local Fiji.app)")
    installed = install.ensure_local_imagej(python=python)
    os.environ.setdefault("JAVA_HOME", str(locate.java_home()))
    scyjava.config.set_java_constraints(fetch="never")
    jars = installed.target / "plugins" / "jars"
    scyjava.config.add_classpath(str(ij_jar), str(jars / "jython.jar"), str(jars / "carekit-jython.jar"))
    scyjava.config.add_options(["-Djava.awt.headless=true", f"-Dplugins.dir={installed.target}",
                                f"-Dij.dir={installed.target}", crash_log_option()])
    scyjava.start_jvm()
    return Session("imagej1", installed.target, installed.plugin)


def _start_fiji(fiji: Path, python: str | None) -> Session:
    import imagej
    import scyjava

    installed = install.install(fiji, python)
    scyjava.config.set_java_constraints(fetch="never")
    scyjava.config.add_options([crash_log_option()])
    imagej.init(str(fiji), mode="headless")
    return Session("fiji", fiji, installed.plugin)


def crash_log_option() -> str:
    """HotSpot writes a fatal-error log (hs_err_pid*.log) into the working directory, i.e. the user's folder; this
    option sends it to the temporary folder."""
    return f"-XX:ErrorFile={Path(tempfile.gettempdir()) / 'carekit-jvm-crash-pid%p.log'}"


def _shutdown(jvm_handlers: dict) -> None:
    """Runs at exit before JPype shuts the JVM down (atexit runs the last registered first). The JVM's fault
    handlers go back in first, since Java runs below and at JVM shutdown; then ImageJ's thread pool stops, which
    would keep the JVM (and so Python's exit) waiting."""
    import scyjava

    if not scyjava.jvm_started():
        return
    jvm_signals.restore(jvm_handlers)
    try:
        ThreadUtil = scyjava.jimport("ij.util.ThreadUtil")
        ThreadUtil.threadPoolExecutor.shutdownNow()
    except Exception:  # noqa: BLE001 -- older ImageJ without the pool; nothing to stop
        pass
    worker = scyjava.jimport("java.lang.System").getProperties().get(contract.WORKER_KEY)
    if worker is not None:
        worker.get("process").destroy()
