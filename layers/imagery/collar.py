"""Collars: the black or white borders scanning and clipping leave around a sheet's image.

A collar is told from dark (or bright) image content by where it lies, as
GDAL's ``nearblack`` does: it is the near-black (near-white) pixels reachable
from the sheet's edge, or from its nodata, through near-black (near-white)
pixels only. A dark roof or a shadow inside the image stays image; so does a
dark area that reaches the edge only through brighter pixels. The collar is
then widened by a margin of a few pixels (:func:`widen`), for JPEG's ringing.

Examples
--------
>>> import numpy as np
>>> grey = np.full((1, 5, 7), 120, np.uint8)
>>> grey[0, :, :2] = 3      # a collar on the left
>>> grey[0, 2, 4] = 0       # a black pixel inside the image
>>> near = near_colour(grey, "black", 10)
>>> edge_connected(near, np.zeros(near.shape, bool)).sum(axis=0).tolist()
[5, 5, 0, 0, 0, 0, 0]
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage

Collar = Literal["black", "white", "none"]


def near_colour(rgb: np.ndarray, collar: Collar, tolerance: int) -> np.ndarray:
    """Whether each pixel of ``rgb`` (bands, rows, cols; 8-bit) is within ``tolerance`` of the
    collar's colour in every band."""
    if collar == "black":
        return np.all(rgb <= tolerance, axis=0)
    if collar == "white":
        return np.all(rgb >= 255 - tolerance, axis=0)
    return np.zeros(rgb.shape[1:], dtype=bool)


def edge_connected(near: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """The pixels of ``near`` connected, through ``near`` or ``outside`` pixels, to the
    array's edge or to an ``outside`` pixel (4-neighbours).

    ``outside`` marks pixels that are no image anyway (nodata, alpha 0): a
    collar often lies between the image and such a border.
    """
    region = near | outside
    seed = outside.copy()
    seed[0, :] |= region[0, :]
    seed[-1, :] |= region[-1, :]
    seed[:, 0] |= region[:, 0]
    seed[:, -1] |= region[:, -1]
    # scipy propagates from the changed pixels only: cheap when collars are thin
    reached = ndimage.binary_propagation(seed, mask=region)
    reached &= near
    return reached


def widen(collar: np.ndarray, margin: int) -> np.ndarray:
    """``collar`` grown by ``margin`` pixels (8-neighbours).

    A JPEG-compressed sheet rings along its collar: the first image pixels are
    neither collar-dark nor image, and escape any tolerance (GDAL's
    ``nearblack`` skips a few such pixels for the same reason).

    Examples
    --------
    >>> import numpy as np
    >>> c = np.zeros((1, 6), bool)
    >>> c[0, 0] = True
    >>> widen(c, 2).astype(int).tolist()
    [[1, 1, 1, 0, 0, 0]]
    """
    if margin <= 0 or not collar.any():
        return collar
    return ndimage.binary_dilation(collar, structure=np.ones((3, 3), bool), iterations=margin)
