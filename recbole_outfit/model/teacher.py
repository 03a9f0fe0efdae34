"""Teacher: the large visual outfit recommender trained with the N-pair loss (paper section 3.2.1, Eq. 10).

Kim et al., "Personalized outfit recommendation with false negative distillation and contrastive
learning". It is :class:`~recbole_outfit.model.npair.NPair` in its large configuration
(``properties/model/Teacher.yaml``, read after ``NPair.yaml``): AlexNet-large item encoder, its own half of
the validation set (``valid_teacher``) and learning rate. The FND / FND-CL students distil from it.
"""

from recbole_outfit.model.npair import NPair


class Teacher(NPair):
    """NPair with the teacher's settings (its yaml); no behaviour of its own."""
