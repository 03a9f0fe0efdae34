"""Batches of image-store rows read from host memory, for a store that is not on the GPU.

The store is a memory map (``np.load(mmap_mode="r")``); a batch is a fancy-index copy of its rows. Two things
keep that copy out of the training step's way:

* **pinned memory and asynchronous copies** (CUDA runs): the rows are copied straight into a page-locked
  tensor (``np.take(..., out=)``; no second copy), which then goes to the GPU with ``non_blocking=True``.
  PyTorch's caching host allocator hands the pinned block out again only after its copy has finished, so a
  block is never overwritten while the GPU still reads it;
* **a prefetch of the next batch**: :meth:`HostGather.prefetch` starts reading rows in a background thread
  (numpy's copy releases the GIL, and page faults of a store larger than RAM are served meanwhile);
  :meth:`HostGather.gather` of the same rows takes that result instead of reading again. A prefetch that is
  not asked for is dropped; results are the same with or without it.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

PENDING_LIMIT = 2  # prefetched batches kept waiting (the next chunk of this pass and the next training batch)


class HostGather:
    """Reads rows of ``array`` (uint8 ``[G, 3, S, S]``, usually a memory map) as tensors on a device.

    Args:
        array: the store.
        prefetch: whether :meth:`prefetch` reads ahead (False: it does nothing).
    """

    def __init__(self, array, prefetch=True):
        self.array = array
        self.prefetch_enabled = prefetch
        self._executor = None
        self._pending = {}  # (device, rows bytes) -> Future of a host tensor, oldest first

    def gather(self, index, device):
        """uint8 ``[len(index), 3, S, S]`` on ``device`` for the rows ``index`` (an int64 numpy array)."""
        device = torch.device(device)
        future = self._pending.pop(self._key(index, device), None)
        host = future.result() if future is not None else self._read(index, pinned=self._pin(device))
        if device.type == "cpu":
            return host
        return host.to(device, non_blocking=True)

    def prefetch(self, index, device):
        """Start reading the rows ``index`` for ``device`` in the background (a no-op when disabled)."""
        if not self.prefetch_enabled:
            return
        device = torch.device(device)
        key = self._key(index, device)
        if key in self._pending:
            return
        while len(self._pending) >= PENDING_LIMIT:  # drop the oldest: it was not asked for in time
            self._pending.pop(next(iter(self._pending))).cancel()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-prefetch")
        self._pending[key] = self._executor.submit(self._read, np.array(index, copy=True), self._pin(device))

    def close(self):
        """Drop pending reads and stop the background thread."""
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def __getstate__(self):  # a store travels to worker processes without its thread
        return {"array": self.array, "prefetch_enabled": self.prefetch_enabled, "_executor": None, "_pending": {}}

    def _read(self, index, pinned):
        shape = (len(index),) + self.array.shape[1:]
        out = torch.empty(shape, dtype=torch.uint8, pin_memory=pinned)  # [n, 3, S, S]
        np.take(self.array, index, axis=0, out=out.numpy())
        return out

    @staticmethod
    def _pin(device):
        return device.type == "cuda"

    @staticmethod
    def _key(index, device):
        return str(device), np.asarray(index, dtype=np.int64).tobytes()
