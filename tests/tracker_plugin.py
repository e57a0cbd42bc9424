"""Trackers for tests: one that records every call into a JSON-lines file, two that raise (from
the start, or after it), one that never finishes, and one whose library is not installed."""

import json
import os
import time
from pathlib import Path

from pydantic import Field

import gen
from gen.spec_base import StrictSpec
from gen.tracking import Tracker


class RecordingOptions(StrictSpec):
    file: str = Field(..., description="where the calls are written")


class Recording(Tracker):
    """Writes each call as a line of ``options.file``: the test reads what a tracker got."""

    def _write(self, call, **fields):
        with open(self.options.file, "a") as f:
            f.write(json.dumps({"call": call, "pid": os.getpid(), **fields}) + "\n")

    def start(self, run):
        self._write("start", purpose=run.purpose, state=run.state, params=run.params)
        return {"id": f"rec-{os.getpid()}"}

    def log(self, step, record):
        self._write("log", step=step, record=record)

    def image(self, step, name, image):
        self._write("image", step=step, name=name, shape=list(image.shape))

    def finish(self, status):
        self._write("finish", status=status)


class Raising(Tracker):
    def check(self, run_root):
        Path(run_root.parent / "raising-checked").touch()

    def start(self, run):
        raise RuntimeError("start broke")

    def log(self, step, record):
        raise RuntimeError("log broke")

    def image(self, step, name, image):
        raise RuntimeError("image broke")

    def finish(self, status):
        raise SystemExit("finish broke")


class RaisingLater(Raising):
    """Starts, then raises in everything else."""

    def start(self, run):
        return {"started": True}


class Hanging(Tracker):
    def finish(self, status):
        time.sleep(3600)


@gen.hookimpl
def gen_register_trackers(register):
    register(name="recording", summary="test: records calls", tracker="tracker_plugin:Recording",
             options="tracker_plugin:RecordingOptions")
    register(name="raising", summary="test: raises", tracker="tracker_plugin:Raising")
    register(name="raising-later", summary="test: raises after starting",
             tracker="tracker_plugin:RaisingLater")
    register(name="hanging", summary="test: never finishes", tracker="tracker_plugin:Hanging")
    register(name="absent", summary="test: not installed", tracker="tracker_plugin:Raising",
             requires=("no_such_module_for_gen",), install="pip install no-such-module")
