"""NPair: the N-pair student - the teacher's objective (Eq. 10) at the student's size (XS by default).

The paper's reference point for FND (Fig. 4, 6): same data, same backbone as the FND / FND-CL students, no
teacher and no contrastive loss. Registered by its own name so benchmark tables can list it; it is exactly
``--model=Teacher --backbone=XS --valid_split=valid_student`` (see ``properties/model/NPair.yaml``).
"""

from recbole_outfit.model.teacher import Teacher


class NPair(Teacher):
    pass
