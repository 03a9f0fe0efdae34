"""A RecBole ``Collector`` that also gathers the user id of every scored row (for per-user metrics)."""

from recbole.evaluator.collector import Collector

from recbole_outfit.evaluator.metrics import USER_FIELD_NEED


class PerUserCollector(Collector):
    def eval_batch_collect(self, scores_tensor, interaction, positive_u, positive_i):
        super().eval_batch_collect(scores_tensor, interaction, positive_u, positive_i)
        if self.register.need(USER_FIELD_NEED):
            users = interaction[self.config["USER_ID_FIELD"]].to(self.device)
            self.data_struct.update_tensor(USER_FIELD_NEED, users)

    def get_data_struct(self):
        struct = super().get_data_struct()
        if USER_FIELD_NEED in self.data_struct:
            del self.data_struct[USER_FIELD_NEED]
        return struct
