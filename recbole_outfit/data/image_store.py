"""The garment image store: every garment image decoded once, resized, kept as uint8 ``[G, 3, S, S]``.

Writing (converter): :func:`build_image_store` decodes JPEGs from a Polyvore-U ``images/291x291/`` folder or
an LMDB (key = JPEG file name, value = JPEG bytes) with a pool of processes that write straight into a
memory-mapped ``.npy`` file, so a training batch later is an index lookup rather than a JPEG decode.

Reading (models): :class:`ImageStore` memory-maps that file and hands out uint8 batches on the model's
device. Where the store lives (``image_store_place``):

* ``gpu``: the whole store is copied to the GPU once; a batch is an index on the device;
* ``cpu``: the store stays a host memory map; each batch is read into pinned memory and copied
  asynchronously, the next one read ahead in a background thread (:mod:`recbole_outfit.data.host_gather`);
* ``auto``: ``gpu`` when the device is CUDA and the store fits the GPU budget (``gpu_store_budget`` GiB,
  or half of the free GPU memory when unset), else ``cpu``. On a CPU run every mode reads from the host.
"""

import multiprocessing
import os
import time
from logging import getLogger

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from recbole_outfit.data.host_gather import HostGather
from recbole_outfit.errors import DataFormatError

JPEG_FOLDER = os.path.join("images", "291x291")
LMDB_FOLDER = os.path.join("images", "lmdb")


class JpegFolderSource:
    """Images as files ``<folder>/<name>``."""

    kind = "jpeg"

    def __init__(self, folder):
        self.folder = folder

    def read(self, name):
        """Raw bytes of one image, or None when it does not exist."""
        path = os.path.join(self.folder, name)
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read()

    def signature(self):
        """Cheap fingerprint for up-to-date checks: number of files and the folder's mtime."""
        return {"kind": self.kind, "path": os.path.realpath(self.folder), "files": len(os.listdir(self.folder)),
                "mtime_ns": os.stat(self.folder).st_mtime_ns}


class LmdbSource:
    """Images in an LMDB: key = JPEG file name (utf-8), value = JPEG bytes. Opened lazily, once per process."""

    kind = "lmdb"

    def __init__(self, path):
        self.path = path
        self._env = None

    def __getstate__(self):
        return {"path": self.path, "_env": None}

    def read(self, name):
        if self._env is None:
            try:
                import lmdb
            except ImportError as error:
                raise DataFormatError(
                    "reading images/lmdb needs the 'lmdb' package", where=self.path,
                    fix="pip install 'recbole-outfit[lmdb]' (or pip install lmdb), or unpack the JPEG folder",
                ) from error
            self._env = lmdb.open(self.path, readonly=True, lock=False, readahead=False, subdir=True)
        with self._env.begin(buffers=False) as txn:
            return txn.get(name.encode("utf-8"))

    def signature(self):
        data = os.path.join(self.path, "data.mdb")
        stat = os.stat(data)
        return {"kind": self.kind, "path": os.path.realpath(self.path), "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns}


def find_image_source(root):
    """The image source of a Polyvore-U root: ``images/291x291/`` if present, else ``images/lmdb``."""
    jpeg, lmdb_path = os.path.join(root, JPEG_FOLDER), os.path.join(root, LMDB_FOLDER)
    if os.path.isdir(jpeg):
        return JpegFolderSource(jpeg)
    if os.path.isdir(lmdb_path):
        return LmdbSource(lmdb_path)
    raise DataFormatError(
        f"no images found: neither {jpeg} nor {lmdb_path} exists", where=root,
        fix="unpack the Polyvore-U images so that the JPEGs are in images/291x291/ (or the LMDB in images/lmdb/)",
    )


def decode_image(data, size):
    """JPEG or PNG bytes -> uint8 array [3, size, size] (RGB, bilinear resize; JPEG draft mode when shrinking;
    a transparent background, as product photos in PNG often have, becomes white)."""
    import io

    with Image.open(io.BytesIO(data)) as image:
        return fit_image(image, size)


def fit_image(image, size):
    """A PIL image -> uint8 array [3, size, size] as the store holds it: JPEG draft mode when shrinking (a file
    not yet loaded), transparency composited on white, RGB, bilinear resize to ``size`` x ``size`` (no crop).
    Photos given to a trained model go through this same function, so a garment's stored pixels written to a
    PNG give back the same array."""
    image.draft("RGB", (size, size))
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    else:
        image = image.convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.BILINEAR)
    return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)


def _decode_chunk(task):
    """Worker: decode names[start:end] into rows start..end of the store; return the failures."""
    source, names, start, store_path, size = task
    store = np.load(store_path, mmap_mode="r+")
    failures = []
    for offset, name in enumerate(names):
        data = source.read(name)
        if data is None:
            failures.append((name, "missing"))
            continue
        try:
            store[start + offset] = decode_image(data, size)
        except Exception as error:  # PIL raises many types for corrupt data
            failures.append((name, f"undecodable ({type(error).__name__}: {error})"))
    store.flush()
    del store
    return len(names), failures


def build_image_store(names, source, size, store_path, workers=None, chunk=256, show_progress=True):
    """Decode ``names`` (in order) from ``source`` into a new ``.npy`` store ``[len(names), 3, size, size]``.

    Returns ``(failures, stats)``: failures is a list of ``(name, reason)`` for missing or undecodable
    images (their rows stay zero); stats holds the count, seconds and images per second.
    """
    logger = getLogger()
    workers = workers or os.cpu_count() or 1
    store = np.lib.format.open_memmap(store_path, mode="w+", dtype=np.uint8, shape=(len(names), 3, size, size))
    store.flush()
    del store
    tasks = [(source, names[i:i + chunk], i, store_path, size) for i in range(0, len(names), chunk)]
    failures = []
    started = time.time()
    progress = tqdm(total=len(names), unit="img", desc="Decoding images", disable=not show_progress, ncols=100)
    if workers == 1 or len(tasks) <= 1:
        results = map(_decode_chunk, tasks)
        pool = None
    else:
        pool = multiprocessing.get_context("fork").Pool(workers)
        results = pool.imap_unordered(_decode_chunk, tasks)
    try:
        for count, chunk_failures in results:
            failures.extend(chunk_failures)
            progress.update(count)
    finally:
        progress.close()
        if pool is not None:
            pool.close()
            pool.join()
    seconds = max(time.time() - started, 1e-9)
    stats = {"images": len(names), "seconds": round(seconds, 3), "images_per_second": round(len(names) / seconds, 1),
             "workers": workers, "image_size": size}
    logger.info(f"Decoded {len(names)} images in {seconds:.1f}s ({stats['images_per_second']:.0f} images/s, "
                f"{workers} workers, {len(failures)} failed)")
    return failures, stats


class ImageStore:
    """Read side of the store: ``store[rows]`` -> uint8 tensor ``[n, 3, S, S]`` on ``device``.

    Args:
        path: the ``.npy`` file.
        place: ``gpu``, ``cpu`` or ``auto`` (see the module docstring).
        gpu_budget: GiB of GPU memory the store may take under ``auto`` (None: half of the free memory;
            0: never on the GPU).
        prefetch: on the host path, read the next batch in a background thread (results are the same).
    """

    def __init__(self, path, place="auto", gpu_budget=None, prefetch=True):
        if not os.path.isfile(path):
            raise DataFormatError("image store is missing", where=path,
                                  fix="re-run the converter (python -m recbole_outfit.data.convert ... --force)")
        self.path = path
        self.place = place
        self.gpu_budget = gpu_budget
        try:
            self.array = np.load(path, mmap_mode="r")  # [G, 3, S, S] uint8
        except (ValueError, OSError, EOFError) as error:  # "mmap length is greater than file size": cut short
            raise DataFormatError(f"image store cannot be read ({error}): a truncated or partly copied file looks "
                                  f"like this", where=path,
                                  fix="convert the dataset again (python -m recbole_outfit.data.convert ... --force, "
                                      "or a run with raw_path set converts it)") from None
        self.host = HostGather(self.array, prefetch=prefetch)
        self.on_device = None  # a torch tensor once moved to a GPU
        self.stays_on_host = place == "cpu"  # decided: no GPU copy (asked for, or auto found it too large)

    @property
    def image_size(self):
        return self.array.shape[-1]

    def __len__(self):
        return self.array.shape[0]

    def nbytes(self):
        return self.array.nbytes

    def fits_gpu(self, free_bytes):
        """Whether ``auto`` puts the store on a GPU with ``free_bytes`` free."""
        budget = 0.5 * free_bytes if self.gpu_budget is None else self.gpu_budget * 2**30
        return self.nbytes() <= budget

    def to(self, device):
        """Move the whole store onto ``device`` when the placement policy says so."""
        device = torch.device(device)
        if device.type != "cuda" or self.stays_on_host:
            self.on_device = None
            return self
        if self.place == "auto":
            free, _ = torch.cuda.mem_get_info(device)
            if not self.fits_gpu(free):
                budget = "half of the free GPU memory" if self.gpu_budget is None else \
                    f"gpu_store_budget ({self.gpu_budget:g} GiB)"
                getLogger().info(f"Image store ({self.nbytes() / 2**30:.1f} GiB) stays in host memory: more than "
                                 f"{budget}; batches come from pinned memory, the next one read ahead")
                self.on_device = None
                self.stays_on_host = True  # decided once: later calls do not ask the GPU again
                return self
        if self.on_device is None or self.on_device.device != device:
            self.on_device = self._copy_to(device)
            getLogger().info(f"Image store ({self.nbytes() / 2**30:.2f} GiB) placed on {device}")
        return self

    def _copy_to(self, device, chunk_bytes=256 * 2**20):
        """The whole store as a tensor on ``device``, copied from the memory map in chunks of ~``chunk_bytes``,
        so host memory never holds more than one chunk (a 224 px Polyvore-630 store is about 21 GB)."""
        tensor = torch.empty(self.array.shape, dtype=torch.uint8, device=device)
        rows = max(1, chunk_bytes // max(1, self.array[0].nbytes if len(self) else 1))
        for start in range(0, len(self), rows):
            tensor[start:start + rows].copy_(torch.from_numpy(np.array(self.array[start:start + rows])))  # one chunk
        return tensor

    def gather(self, rows, device):
        """uint8 images ``[len(rows), 3, S, S]`` on ``device`` for the store rows ``rows`` (a LongTensor)."""
        if self.on_device is not None:
            return self.on_device[rows.to(self.on_device.device)]
        return self.host.gather(rows.cpu().numpy(), device)

    def prefetch(self, rows, device):
        """Read the rows ``rows`` ahead for a later :meth:`gather` (host path only; a no-op on the GPU path)."""
        if self.on_device is None:
            self.host.prefetch(rows.cpu().numpy(), device)
