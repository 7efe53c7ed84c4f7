"""Worker processes of the coverage sums reuse freed memory instead of faulting in new pages."""

from __future__ import annotations

import multiprocessing as mp
import resource
import sys

import numpy as np
import pytest

from twin._executors import _keep_freed_memory


def _faults_of_a_second_big_array(keep: bool) -> int:
    """Minor page faults while filling a 64 MB array after one was freed (in a fresh child).

    64 MB is above the largest threshold glibc ever serves from the heap by default.
    """
    if keep:
        _keep_freed_memory()
    a = np.ones(1 << 23)
    del a
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    b = np.ones(1 << 23)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    del b
    return after - before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_worker_reuses_the_pages_numpy_freed():
    with mp.get_context("fork").Pool(1) as pool:
        default = pool.apply(_faults_of_a_second_big_array, (False,))
    with mp.get_context("fork").Pool(1) as pool:
        kept = pool.apply(_faults_of_a_second_big_array, (True,))
    assert default > 0  # the allocator hands back fresh pages by default
    assert kept * 4 < default  # a few faults of Python objects, none for the array
