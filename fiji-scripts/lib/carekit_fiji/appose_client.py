"""A minimal Appose client in Jython 2.7: a warm Python worker process, JSON lines on stdin/stdout, images in
shared memory (/dev/shm) segments that this side creates and removes (also when the JVM exits).

Protocol (Appose): requests {"task", "requestType": "EXECUTE", "script", "inputs"}; responses LAUNCH, UPDATE,
COMPLETION (with "outputs"), FAILURE (with "error"), CANCELATION, CRASH. NDArrays are
{"appose_type": "ndarray", "dtype", "shape", "shm": {"appose_type": "shm", "name", "rsize"}}.

A SIGKILLed JVM cannot remove its segments, so their names carry its pid (psm_carekit_<pid>_<id>) and the next
worker start removes those whose owner is gone; the worker itself exits with its parent (carekit.fiji.worker.main).
Python errors reach the user as one line that names the worker log holding the traceback.
"""

import json
import os
import re
import time

from java.io import BufferedReader, BufferedWriter, File, InputStreamReader, IOException, OutputStreamWriter
from java.io import RandomAccessFile
from java.lang import IllegalArgumentException, InterruptedException, ProcessBuilder, Runnable, Runtime, System, Thread
from java.nio import ByteOrder
from java.nio.channels import FileChannel
from java.util import HashMap, UUID

from . import contract

CLEANUP_KEY = "carekit.appose.cleanup"
SHM_FOLDER = "/dev/shm"
LOG_PREFIX = "carekit-worker-"
LOG_KEEP_MS = 24 * 3600 * 1000  # a dead session's worker log stays a day, for the error message that names it


class WorkerError(Exception):
    pass


class SharedSegment(object):
    """A float32 buffer in /dev/shm that the Python worker attaches to by name."""

    def __init__(self, n_floats):
        if not File(SHM_FOLDER).isDirectory():
            raise WorkerError("shared memory (%s) is not available on this system; use engine=deepimagej" % SHM_FOLDER)
        unique = UUID.randomUUID().toString().replace("-", "")[:16]
        self.name = "%s%d_%s" % (contract.SEGMENT_PREFIX, os.getpid(), unique)
        self.path = SHM_FOLDER + "/" + self.name
        self.nbytes = max(4, int(n_floats) * 4)
        self.file = RandomAccessFile(self.path, "rw")
        try:
            self.file.setLength(self.nbytes)
            self.channel = self.file.getChannel()
            self.buffer = self.channel.map(FileChannel.MapMode.READ_WRITE, 0, self.nbytes)
        except (IOException, IllegalArgumentException) as error:  # /dev/shm full, or over 2 GiB (one Java buffer)
            self.file.close()
            File(self.path).delete()
            raise WorkerError("the image (%d MB as float32) does not fit in shared memory (%s); CARE Restore is for "
                              "images that fit in memory: restore larger ones chunk by chunk with `carekit predict "
                              "--model M big.ome.zarr --out restored.ome.zarr`" % (self.nbytes // 2**20, error))
        self.buffer.order(ByteOrder.LITTLE_ENDIAN)

    def floats(self):
        self.buffer.rewind()
        return self.buffer.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()

    def ndarray(self, shape):
        return {"appose_type": "ndarray", "dtype": "float32", "shape": list(shape),
                "shm": {"appose_type": "shm", "name": self.name, "rsize": self.nbytes}}

    def dispose(self):
        try:
            self.channel.close()
            self.file.close()
        finally:
            File(self.path).delete()


def remove_stale_files():
    """Remove the segments of JVMs that were killed before they could clean up, and their worker logs once
    empty or a day old."""
    if not os.path.isdir("/proc/self"):
        return  # no way to tell live owners from dead ones
    now = System.currentTimeMillis()
    for folder, prefix, keep_ms in ((SHM_FOLDER, contract.SEGMENT_PREFIX, 0),
                                    (System.getProperty("java.io.tmpdir"), LOG_PREFIX, LOG_KEEP_MS)):
        for name in File(folder).list() or []:
            owner = re.match(r"(\d+)[_.]", name[len(prefix):]) if name.startswith(prefix) else None
            if owner is None or os.path.exists("/proc/" + owner.group(1)):
                continue
            path = File(folder, name)
            if path.length() == 0 or now - path.lastModified() >= keep_ms:
                path.delete()


class _RemoveOwnSegments(Runnable):
    """A JVM shutdown hook (normal exit, SIGTERM, SIGINT): remove the segments this JVM still holds."""

    def __init__(self, prefix):
        self.prefix = prefix

    def run(self):
        for name in File(SHM_FOLDER).list() or []:
            if name.startswith(self.prefix):
                File(SHM_FOLDER, name).delete()


def _remove_segments_at_exit():
    if System.getProperty(CLEANUP_KEY) is None:
        System.setProperty(CLEANUP_KEY, "registered")
        own = "%s%d_" % (contract.SEGMENT_PREFIX, os.getpid())
        Runtime.getRuntime().addShutdownHook(Thread(_RemoveOwnSegments(own)))


def cause(text):
    """The one-line cause at the end of a Python traceback (the exception after the last stack frame, without
    the module path of its class, e.g. 'InputError: ...'), or the last line of a log without one."""
    lines = [line for line in str(text or "").splitlines() if line.strip()]
    frames = [i for i, line in enumerate(lines) if line.startswith(" ") or line.startswith("Traceback")]
    message = " ".join(line.strip() for line in (lines[frames[-1] + 1:] if frames else lines[-1:]))
    return re.sub(r"^[\w.]*\.(?=\w+: )", "", message)[:500]


def _log_since(path, start):
    try:
        handle = open(path)
        try:
            handle.seek(start)
            return handle.read()[-20000:]
        finally:
            handle.close()
    except IOError:
        return ""


def _failure(state, what, error):
    """One line for the user; the full traceback goes to the worker log, which the line names."""
    error = str(error or "").strip()
    try:
        handle = open(state.get("log"), "a")
        try:
            handle.write("%s:\n%s\n" % (what, error))
        finally:
            handle.close()
    except IOError:
        pass  # the message below still carries the cause
    return "%s: %s (Python traceback in %s)" % (what, cause(error) or "no message", state.get("log"))


def worker(python):
    """The warm worker for this Python executable (started on first use, kept across plugin runs)."""
    properties = System.getProperties()
    state = properties.get(contract.WORKER_KEY)
    if state is not None:
        if state.get("python") == python and state.get("process").isAlive():
            return state
        stop(state)
    remove_stale_files()
    _remove_segments_at_exit()
    log = File(System.getProperty("java.io.tmpdir"), "%s%d.log" % (LOG_PREFIX, os.getpid()))
    log_start = log.length()
    builder = ProcessBuilder([python, "-c", contract.WORKER_COMMAND])
    builder.redirectError(ProcessBuilder.Redirect.appendTo(log))
    builder.environment().put("PYTHONUNBUFFERED", "1")
    builder.environment().put("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        process = builder.start()
    except IOException as error:
        raise WorkerError("cannot start Python at '%s' (%s). Give the carekit environment's Python with "
                          "python=[/path/to/.venv/bin/python], or run `carekit fiji install` again." % (python, error))
    state = HashMap()
    state.put("python", python)
    state.put("process", process)
    state.put("log", log.getAbsolutePath())
    state.put("log_start", log_start)
    state.put("reader", BufferedReader(InputStreamReader(process.getInputStream(), "UTF-8")))
    state.put("writer", BufferedWriter(OutputStreamWriter(process.getOutputStream(), "UTF-8")))
    properties.put(contract.WORKER_KEY, state)
    return state


def stop(state):
    System.getProperties().remove(contract.WORKER_KEY)
    process = state.get("process")
    try:
        state.get("writer").close()
    except IOException:
        pass
    if process.isAlive():
        process.destroyForcibly()


def execute(state, script, inputs, timeout, on_update=None):
    """Run `script` in the worker with `inputs`; return its outputs. Raises WorkerError on failure, crash or
    timeout (then the worker is stopped, so the next call starts a fresh one)."""
    task = UUID.randomUUID().toString()
    request = json.dumps({"task": task, "requestType": "EXECUTE", "script": script, "inputs": inputs})
    process, reader, writer = state.get("process"), state.get("reader"), state.get("writer")
    try:
        writer.write(request)
        writer.newLine()
        writer.flush()
    except IOException:
        pass  # the worker died; reported below with its log
    deadline = time.time() + timeout
    while True:
        if reader.ready():
            line = reader.readLine()
            if line is None:
                break
            try:
                response = json.loads(line)
            except ValueError:
                continue  # a stray print from library code
            if response.get("task") != task:
                continue
            kind = response.get("responseType")
            if kind == "UPDATE" and on_update is not None:
                on_update(response)
            elif kind == "COMPLETION":
                return response.get("outputs") or {}
            elif kind == "FAILURE":
                raise WorkerError(_failure(state, "the restoration failed in Python", response.get("error")))
            elif kind in ("CANCELATION", "CRASH"):
                stop(state)
                raise WorkerError(_failure(state, "the Python worker reported " + kind, response.get("error")))
        elif not process.isAlive():
            break
        elif time.time() > deadline:
            stop(state)
            raise WorkerError("no answer from the Python worker within %g s; it was stopped. Use a larger "
                              "timeout=, smaller images or a GPU." % timeout)
        else:
            try:
                Thread.sleep(5)
            except InterruptedException:  # ImageJ aborted the command, or the JVM is shutting down
                stop(state)
                raise WorkerError("interrupted; the Python worker was stopped")
    code = process.waitFor()
    stop(state)
    message = cause(_log_since(state.get("log"), state.get("log_start"))) or "no message"
    raise WorkerError("the Python worker exited (code %d): %s (log: %s). Check that python=[...] points to the "
                      "carekit environment (carekit doctor)." % (code, message, state.get("log")))
