"""Train and test an outfit recommender: python run_recbole_outfit.py --model=FNDCL --dataset=synthetic630"""

import sys

from recbole_outfit.cli import main

if __name__ == "__main__":
    sys.exit(main())
