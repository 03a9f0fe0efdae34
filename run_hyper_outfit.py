"""Hyper-parameter search by the validation metric (RecBole's HyperTuning):
python run_hyper_outfit.py --model=FND --dataset=synthetic630 --params_file=alpha.hyper"""

import sys

from recbole_outfit.experiments.hyper_cli import main

if __name__ == "__main__":
    sys.exit(main())
