"""Training batches one step ahead: while batch i trains, batch i+1's images are read (host image stores).

RecBole's ``Trainer._train_epoch`` iterates the training dataloader; :class:`Lookahead` stands in for that
dataloader, draws the next batch before handing out the current one, and gives it to ``on_next`` (the model's
``prefetch_batch``), which starts reading its images in the background. Batches, their order and the random
draws are exactly the dataloader's own; only when the next batch's sampling happens moves.
"""


class Lookahead:
    """``dataloader`` with ``on_next(batch)`` called for each batch one step before it is handed out."""

    def __init__(self, dataloader, on_next):
        self._dataloader = dataloader
        self._on_next = on_next

    def __iter__(self):
        iterator = iter(self._dataloader)
        try:
            current = next(iterator)
        except StopIteration:
            return
        for upcoming in iterator:
            self._on_next(upcoming)
            yield current
            current = upcoming
        yield current

    def __len__(self):
        return len(self._dataloader)

    def __getattr__(self, name):  # shuffle, sampler, ...: the dataloader's own
        return getattr(self._dataloader, name)
