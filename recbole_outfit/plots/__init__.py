"""Pictures of a trained model and of a run: outfit grids, the t-SNE of users and outfits (the paper's Fig. 8),
training curves and the comparison's picture (each model's mean ± std over seeds). ``draw`` works on plain
data (any layer may use it); ``python -m recbole_outfit.plots`` loads a checkpoint or a run's history and
writes PNGs (see ``__main__``)."""
