"""Where the page's work runs: model work on one dedicated thread, images on their own, the event loop free.

The :class:`~recbole_outfit.recommend.Recommender` fills caches on first use (garment features, outfit vectors,
photos) and is not written for concurrent calls, so every call into it runs on a single worker thread, one at a
time, in arrival order (:meth:`Workers.model`). A request waiting for the model holds no thread and no lock:
it awaits a future on the event loop. Images (garment PNGs) are read from the store's memory map and encoded on
a separate small pool (:meth:`Workers.images`), so they never queue behind model work.
"""

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor


class Workers:
    def __init__(self, image_threads=2):
        self._model = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self._images = ThreadPoolExecutor(max_workers=image_threads, thread_name_prefix="images")
        self.waiting = 0  # model calls queued or running (for the request log)

    async def model(self, fn, *args, **kwargs):
        """Run ``fn(*args, **kwargs)`` on the model thread; await its result."""
        self.waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._model, functools.partial(fn, *args, **kwargs))
        finally:
            self.waiting -= 1

    async def images(self, fn, *args):
        """Run ``fn(*args)`` on the image pool (never behind model work)."""
        return await asyncio.get_running_loop().run_in_executor(self._images, functools.partial(fn, *args))

    def shutdown(self):
        self._model.shutdown(wait=False, cancel_futures=True)
        self._images.shutdown(wait=False, cancel_futures=True)
