"""``python -m tests.clocked MODULE ARGS…``: run MODULE as ``python -m`` would, on a clock
moved by ``HINDSIGHT_TEST_CLOCK_OFFSET`` seconds (ticking), as the test that started
this process pinned its own. Without the variable the clock is the machine's."""

from __future__ import annotations

import os
import runpy
import sys
import time

import time_machine

from tests.clock import OFFSET_VARIABLE


def main() -> None:
    offset = os.environ.pop(OFFSET_VARIABLE, "")
    if offset:
        time_machine.travel(time.time() + float(offset), tick=True).start()
    module, sys.argv = sys.argv[1], sys.argv[1:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
