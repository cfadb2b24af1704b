"""A minimal Appose client in Jython 2.7: a warm Python worker process, JSON lines on stdin/stdout, images in
shared memory (/dev/shm) segments that this side creates and always removes.

Protocol (Appose): requests {"task", "requestType": "EXECUTE", "script", "inputs"}; responses LAUNCH, UPDATE,
COMPLETION (with "outputs"), FAILURE (with "error"), CANCELATION, CRASH. NDArrays are
{"appose_type": "ndarray", "dtype", "shape", "shm": {"appose_type": "shm", "name", "rsize"}}.
"""

import json
import time

from java.io import BufferedReader, BufferedWriter, File, InputStreamReader, IOException, OutputStreamWriter
from java.io import RandomAccessFile
from java.lang import ProcessBuilder, System, Thread
from java.nio import ByteOrder
from java.nio.channels import FileChannel
from java.util import HashMap, UUID

WORKER_KEY = "carekit.appose.worker"
SHM_FOLDER = "/dev/shm"
WORKER_COMMAND = "import appose.python_worker; appose.python_worker.main()"


class WorkerError(Exception):
    pass


class SharedSegment(object):
    """A float32 buffer in /dev/shm that the Python worker attaches to by name."""

    def __init__(self, n_floats):
        if not File(SHM_FOLDER).isDirectory():
            raise WorkerError("shared memory (%s) is not available on this system; use engine=deepimagej" % SHM_FOLDER)
        self.name = "psm_carekit_" + UUID.randomUUID().toString().replace("-", "")[:16]
        self.path = SHM_FOLDER + "/" + self.name
        self.nbytes = max(4, int(n_floats) * 4)
        self.file = RandomAccessFile(self.path, "rw")
        self.file.setLength(self.nbytes)
        self.channel = self.file.getChannel()
        self.buffer = self.channel.map(FileChannel.MapMode.READ_WRITE, 0, self.nbytes)
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


def _log_tail(path, lines=15):
    try:
        handle = open(path)
        try:
            return "".join(handle.readlines()[-lines:])
        finally:
            handle.close()
    except IOError:
        return ""


def worker(python):
    """The warm worker for this Python executable (started on first use, kept across plugin runs)."""
    properties = System.getProperties()
    state = properties.get(WORKER_KEY)
    if state is not None:
        if state.get("python") == python and state.get("process").isAlive():
            return state
        stop(state)
    log = File.createTempFile("carekit-worker-", ".log")
    log.deleteOnExit()
    builder = ProcessBuilder([python, "-c", WORKER_COMMAND])
    builder.redirectError(log)
    builder.environment().put("PYTHONUNBUFFERED", "1")
    builder.environment().put("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        process = builder.start()
    except IOException, error:
        raise WorkerError("cannot start Python at '%s' (%s). Give the carekit environment's Python with "
                          "python=[/path/to/.venv/bin/python], or run `carekit fiji install` again." % (python, error))
    state = HashMap()
    state.put("python", python)
    state.put("process", process)
    state.put("log", log.getAbsolutePath())
    state.put("reader", BufferedReader(InputStreamReader(process.getInputStream(), "UTF-8")))
    state.put("writer", BufferedWriter(OutputStreamWriter(process.getOutputStream(), "UTF-8")))
    properties.put(WORKER_KEY, state)
    return state


def stop(state):
    System.getProperties().remove(WORKER_KEY)
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
                raise WorkerError("the restoration failed in Python:\n" + str(response.get("error", "")).strip())
            elif kind in ("CANCELATION", "CRASH"):
                stop(state)
                raise WorkerError("the Python worker reported %s:\n%s" % (kind, response.get("error", "")))
        elif not process.isAlive():
            break
        elif time.time() > deadline:
            stop(state)
            raise WorkerError("no answer from the Python worker within %g s; it was stopped. Use a larger "
                              "timeout=, smaller images or a GPU." % timeout)
        else:
            Thread.sleep(5)
    code = process.waitFor()
    stop(state)
    raise WorkerError("the Python worker exited (code %d). Its last messages:\n%s\nCheck that python=[...] "
                      "points to the carekit environment (carekit doctor)." % (code, _log_tail(state.get("log"))))
