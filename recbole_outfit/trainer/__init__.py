from recbole_outfit.trainer.trainer import OutfitTrainer, OutfitTrainerMixin, with_outfit_evaluation

__all__ = ["OutfitTrainer", "OutfitTrainerMixin", "with_outfit_evaluation"]
