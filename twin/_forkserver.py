"""Imported by multiprocessing's forkserver as it starts (:mod:`twin._executors` preloads
it): the forkserver dies with the process that started it.

A build killed with SIGKILL cannot end its pool, and its forkserver and layer
workers would live on: the workers hold the forkserver's pipes, so neither sees
the build go. With ``PR_SET_PDEATHSIG`` the kernel ends the forkserver when the
thread that started it (the build's) ends, and each layer worker when the
forkserver ends (:func:`twin._executors.init_layer_worker`). A forkserver ended
with a thread of a longer-lived process is started again at the next build.
"""

from __future__ import annotations

import os

from twin._executors import FORKSERVER_PARENT_ENV, _die_with_parent

# the PID of the process that started it: had that died already, this one ends now
_parent = os.environ.get(FORKSERVER_PARENT_ENV, "")
_die_with_parent(int(_parent) if _parent.isdigit() else os.getppid())
